import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Training

@Suite struct MetricsTests {
    let records: [Metrics] = (0..<50).map { (k: Int) -> Metrics in
        let train: Float = 4 * exp(-Float(k) / 20) + 1
        let validation: Float? = k % 10 == 9 ? train + 0.2 : nil
        return Metrics(step: k * 10, epoch: Double(k) / 10, trainLoss: train, validationLoss: validation, learningRate: 1e-3)
    }

    @Test func logRoundTripsAsJSONLines() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try MetricsLog(path: path)
        for r in records { try log.append(r) }
        #expect(try MetricsLog.read(path: path) == records)
        let firstLine = String(decoding: FileManager.default.contents(atPath: path)!.split(separator: 0x0A)[0], as: UTF8.self)
        #expect(firstLine.contains("\"train_loss\":5") && firstLine.contains("\"step\":0"))
    }

    @Test func chartIsWellFormedSVGWithBothSeries() throws {
        let svg = LossChart.svg(records, title: "run <1> & co")
        let document = try XMLDocument(xmlString: svg)
        let polylines = try document.nodes(forXPath: "//*[local-name()='polyline']")
        #expect(polylines.count == 2)
        #expect(svg.contains("run &lt;1&gt; &amp; co"))
        #expect(try document.nodes(forXPath: "//*[local-name()='circle']").count == 5)
    }

    @Test func chartOfNothingIsStillAValidPicture() throws {
        _ = try XMLDocument(xmlString: LossChart.svg([], title: "empty"))
        _ = try XMLDocument(xmlString: LossChart.svg([Metrics(step: 0, epoch: 0, trainLoss: .nan)], title: "nan"))
    }
}
