// swift-tools-version:6.0
import Foundation
import PackageDescription

// The SIMD kernels need AVX2 + FMA: without them every `addProduct` lane becomes a call
// to `fmaf` (about 60x slower). x86-64-v3 is Haswell / Zen 1 and later. On a machine with
// AVX-512 (x86-64-v4: F, BW, CD, DQ, VL) the build targets that instead, so the micro-kernel's
// SIMD16 accumulators are zmm registers: twice the FMA width where the units are 512 bits wide
// (Zen 5). The binary then needs AVX-512: build where it runs, as `swift build` does, or set
// VECTOR_ISA=x86-64-v3 (or another -march level) to choose. PORTABLE_BUILD=1 gives a baseline
// binary that runs on any x86-64 or other CPU.
let environment = ProcessInfo.processInfo.environment
let portable = environment["PORTABLE_BUILD"] != nil
#if arch(x86_64)
let hostHasAVX512: Bool = {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
    let present = Set(flags.split(separator: " ").map(String.init))
    return ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"].allSatisfy(present.contains)
}()
let vectorLevel = environment["VECTOR_ISA"] ?? (hostHasAVX512 ? "x86-64-v4" : "x86-64-v3")
let vectorISA: [String] = portable ? [] : ["-Xcc", "-march=\(vectorLevel)"]
let wideVectors = !portable && vectorLevel == "x86-64-v4"
#else
let vectorISA: [String] = []
let wideVectors = false
#endif

// Every target that can inline kernel code gets the same instruction set, so that
// nothing compiled against the kernels silently falls back to per-lane `fmaf` calls.
// PORTABLE_BUILD is also visible to Swift code (`#if PORTABLE_BUILD`), so the FMA test can
// say why it is skipped.
let vectorSettings: [SwiftSetting] = [
    .unsafeFlags(vectorISA),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
] + (portable ? [.define("PORTABLE_BUILD")] : []) + (wideVectors ? [.define("AVX512_BUILD")] : [])

let package = Package(
    name: "BilingualLM",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Text", targets: ["Text"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .library(name: "Network", targets: ["Network"]),
        .executable(name: "tokenize", targets: ["tokenize"]),
        .executable(name: "buildvocab", targets: ["buildvocab"]),
        .executable(name: "trainlm", targets: ["trainlm"]),
        .executable(name: "generate", targets: ["generate"]),
        .executable(name: "evaluate", targets: ["evaluate"]),
        .executable(name: "classify", targets: ["classify"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // ICU must stay behind a C target: Foundation on Linux carries its own ICU
        // (`_FoundationICU`) whose C type names clash with Debian's in any Swift module
        // that sees both, and Debian's ICU exports only version-renamed symbols.
        .systemLibrary(name: "CICU", pkgConfig: "icu-i18n", providers: [.apt(["libicu-dev"])]),
        .systemLibrary(name: "CUTF8Proc", pkgConfig: "libutf8proc", providers: [.apt(["libutf8proc-dev"])]),
        .target(name: "CText", dependencies: ["CICU", "CUTF8Proc"],
                cSettings: [.unsafeFlags(["-O2"])]),
        // Whole-file reads and atomic, durable writes (temporary file, fsync, rename).
        .target(name: "FileSupport"),
        .target(name: "Text", dependencies: ["CText", "FileSupport"], exclude: ["README.md"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        // The bundled vocabularies, built by `buildvocab` (commands in vocab/README.md).
        .target(name: "DefaultVocabulary", path: "vocab", exclude: ["README.md"],
                resources: [.copy("bilingual-8k.vocab"), .copy("bilingual-32k.vocab")]),
        .target(name: "CLISupport", dependencies: [
            "Text", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tokenize", dependencies: ["Text", "CLISupport", "DefaultVocabulary",
            .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "buildvocab", dependencies: ["Text", "CLISupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Helpers shared by the test targets (a seeded generator).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TextTests", dependencies: ["Text", "DefaultVocabulary", "TestSupport"]),
        // Runs the built executables; depends on them so they are built first.
        .testTarget(name: "CLITests", dependencies: ["tokenize", "buildvocab", "trainlm", "generate", "evaluate", "classify"]),
        // Language-model training on the network: data, optimizer, schedule, evaluation, run
        // folders with resumable checkpoints.
        .target(name: "Training", dependencies: ["Kernels", "Network", "Text", "FileSupport", "SafeTensors"],
                swiftSettings: vectorSettings),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Network", "Text", "SafeTensors", "FileSupport", "TestSupport"], swiftSettings: vectorSettings),
        // Sampling and incremental generation from a trained model.
        .target(name: "Generation", dependencies: ["Network", "Text", "Training", "Kernels"], swiftSettings: vectorSettings),
        .testTarget(name: "GenerationTests", dependencies: ["Generation", "Training", "TestSupport"],
                    swiftSettings: vectorSettings),
        .executableTarget(name: "trainlm", dependencies: ["Training", "Network", "Text", "CLISupport", "DefaultVocabulary",
            .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: vectorSettings),
        .executableTarget(name: "generate", dependencies: ["Generation", "Training", "Text", "CLISupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: vectorSettings),
        .executableTarget(name: "evaluate", dependencies: ["Training", "Text", "CLISupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: vectorSettings),
        // Text classification on the network: labelled data, the pooled classification head,
        // ULMFiT-style fine-tuning from a language-model run, evaluation reports.
        .target(name: "Classification", dependencies: ["Network", "Training", "Text", "Kernels", "FileSupport", "SafeTensors"],
                swiftSettings: vectorSettings),
        .testTarget(name: "ClassificationTests", dependencies: ["Classification", "Network", "Training", "Text", "Kernels", "TestSupport"],
                    swiftSettings: vectorSettings),
        .executableTarget(name: "classify", dependencies: ["Classification", "Training", "Network", "Text", "CLISupport", "DefaultVocabulary",
            .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: vectorSettings),
        // Numerical kernels (GEMM, activations, losses, normalization); no dependency on Text.
        .target(name: "Kernels", exclude: ["README.md"], swiftSettings: vectorSettings),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"], swiftSettings: vectorSettings),
        // Embedding -> LSTM / causal attention layers -> output head, forward and backward, on
        // the kernels; no dependency on Text.
        .target(name: "Network", dependencies: ["Kernels", "SafeTensors"], exclude: ["README.md"],
                swiftSettings: vectorSettings),
        // Test support only: counts malloc calls on the calling thread and the threads it starts
        // (the allocation test).
        .target(name: "CMallocCounter", path: "Tests/CMallocCounter"),
        // Fixtures/ is read through #filePath (written by scripts/network-parity.py).
        .testTarget(name: "NetworkTests", dependencies: ["Network", "Kernels", "CMallocCounter", "SafeTensors"],
                    exclude: ["Fixtures"], swiftSettings: vectorSettings),
        // Thin benchmark driver over Kernels, run by scripts/bench-kernels.
        .executableTarget(name: "kernelbench", dependencies: ["Kernels"], swiftSettings: vectorSettings),
        // Thin benchmark driver for whole training steps and decoding, run by
        // scripts/bench-train-step.
        .executableTarget(name: "trainbench", dependencies: ["Network", "Training", "Kernels"],
                          swiftSettings: vectorSettings),
        // safetensors reader and writer; Foundation only.
        .target(name: "SafeTensors", dependencies: ["FileSupport"], exclude: ["README.md"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"]),
        // Writes and dumps sample files for scripts/check-safetensors-interop.
        .executableTarget(name: "safetensors-tool", dependencies: ["SafeTensors"]),
    ]
)
