import SparseAutoencoder

/// The page around sae's HTML files (report.html, sweep.html): one head, one style sheet and one
/// escape, so the two pages look alike and a fix to either reaches both.
enum HTMLPage {
    /// A complete page: `body` (HTML, already escaped) in the shared frame.
    static func render(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(css)</style></head>
        <body><main>
        \(body)
        </main></body></html>

        """
    }

    static func escape(_ s: String) -> String { SVGChart.escape(s) }

    private static let css = """
        body{font-family:Helvetica,Arial,sans-serif;color:#333;background:#fafafa;margin:0}
        main{max-width:980px;margin:0 auto;padding:24px 32px;background:#fff}
        h1{font-size:26px;margin:8px 0 12px}h2{font-size:21px;margin-top:36px;border-bottom:2px solid #3266a8;padding-bottom:4px}
        h3{font-size:16px;margin:18px 0 6px}.lead{font-size:15px;line-height:1.5}nav{margin:12px 0 8px}
        nav a{color:#3266a8}table{border-collapse:collapse;margin:8px 0;font-size:14px}
        th,td{border:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}th{background:#f0f3f8}
        td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.why{color:#555;font-size:13px}
        figure{margin:16px 0 24px}figure svg,figure img{max-width:100%;height:auto;border:1px solid #eee}
        figure img{image-rendering:pixelated}figcaption{font-size:13px;color:#555;margin-top:4px}
        .note,footer{font-size:12px;color:#777}footer{margin-top:32px}
        pre{background:#f5f5f5;padding:8px;overflow-x:auto}main>svg{max-width:100%;height:auto}
        """
}
