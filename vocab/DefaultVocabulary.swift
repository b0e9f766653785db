import Foundation

/// The vocabularies in this folder, shipped as SwiftPM resources next to the executables.
public enum DefaultVocabulary {
    public static let small = "bilingual-8k.vocab"
    public static let large = "bilingual-32k.vocab"

    /// Path of a bundled vocabulary, or nil when the resource bundle is not beside the
    /// executable (e.g. a binary copied elsewhere without it).
    public static func path(_ name: String = small) -> String? {
        // SwiftPM puts the bundle next to the executable (and the test runner). Looked up
        // by hand: the generated `Bundle.module` stops the process when it is missing.
        let bundle = "BilingualLM_DefaultVocabulary.resources"
        var folders: [URL] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() { folders.append(exe.deletingLastPathComponent()) }
        folders.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        for folder in folders {
            let candidate = folder.appendingPathComponent(bundle).appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }
}
