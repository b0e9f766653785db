import Foundation

/// A self-contained SVG chart of training and validation loss against steps, for a person
/// to open in a browser: axes with ticks, one polyline per series, a legend.
public enum LossChart {
    public static func svg(_ records: [Metrics], title: String, width: Int = 720, height: Int = 420) -> String {
        let train = records.compactMap { r in r.trainLoss.map { (Double(r.step), Double($0)) } }.filter { $0.1.isFinite }
        let validation = records.compactMap { r in r.validationLoss.map { (Double(r.step), Double($0)) } }.filter { $0.1.isFinite }
        let all = train + validation
        let left = 60.0, right = 20.0, top = 40.0, bottom = 50.0
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        let maxX = max(all.map(\.0).max() ?? 1, 1)
        var minY = all.map(\.1).min() ?? 0, maxY = all.map(\.1).max() ?? 1
        if maxY - minY < 1e-6 { minY -= 0.5; maxY += 0.5 }
        func x(_ v: Double) -> Double { left + v / maxX * w }
        func y(_ v: Double) -> Double { top + (maxY - v) / (maxY - minY) * h }
        func points(_ series: [(Double, Double)]) -> String {
            series.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
        }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>
            <line x1="\(left)" y1="\(top + h)" x2="\(left + w)" y2="\(top + h)" stroke="black"/>
            <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(top + h)" stroke="black"/>

            """
        for k in 0...5 {
            let vy = minY + (maxY - minY) * Double(k) / 5, vx = maxX * Double(k) / 5
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, y(vy), left + w, y(vy))
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", left - 6, y(vy) + 4, vy)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", x(vx), top + h + 18, Int(vx))
        }
        svg += "<text x=\"\(Int(left + w / 2))\" y=\"\(height - 8)\" text-anchor=\"middle\">step</text>\n"
        svg += "<text x=\"16\" y=\"\(Int(top + h / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(Int(top + h / 2)))\">loss (nats/token)</text>\n"
        if !train.isEmpty {
            svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(points(train))\"/>\n"
        }
        if !validation.isEmpty {
            svg += "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"\(points(validation))\"/>\n"
            for p in validation { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n", x(p.0), y(p.1)) }
        }
        svg += """
            <rect x="\(Int(left + w - 150))" y="\(Int(top + 6))" width="140" height="44" fill="white" stroke="#999"/>
            <line x1="\(Int(left + w - 140))" y1="\(Int(top + 20))" x2="\(Int(left + w - 115))" y2="\(Int(top + 20))" stroke="#1f77b4" stroke-width="2"/>
            <text x="\(Int(left + w - 108))" y="\(Int(top + 24))">training</text>
            <line x1="\(Int(left + w - 140))" y1="\(Int(top + 38))" x2="\(Int(left + w - 115))" y2="\(Int(top + 38))" stroke="#d62728" stroke-width="2"/>
            <text x="\(Int(left + w - 108))" y="\(Int(top + 42))">validation</text>
            </svg>

            """
        return svg
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
