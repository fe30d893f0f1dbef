/// The feature browser's `index.html`: the same for every run (the data are in `data/*.js`). Plain
/// JavaScript, no library and nothing fetched: the table draws one page of 100 rows at a time,
/// and a latent's section loads its chunk's script when it is first opened (#L123 in the address
/// opens latent 123; links between latents use it, so the browser's back button works).
enum FeatureBrowserPage {
    static let html = """
    <!DOCTYPE html>
    <html lang="en"><head><meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>sae features</title>
    <style>
    body{font-family:Helvetica,Arial,sans-serif;color:#333;background:#fafafa;margin:0}
    main{max-width:1180px;margin:0 auto;padding:20px 28px;background:#fff}
    h1{font-size:24px;margin:6px 0 10px}h2{font-size:19px;margin:26px 0 8px;border-bottom:2px solid #3266a8;padding-bottom:3px}
    h3{font-size:15px;margin:14px 0 6px}.muted{color:#777;font-size:13px}a{color:#3266a8;cursor:pointer}
    .stats{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}.stat{background:#f0f3f8;padding:6px 12px;border-radius:4px}
    .stat b{display:block;font-size:18px}table{border-collapse:collapse;font-size:13px;width:100%}
    th,td{border-bottom:1px solid #e4e4e4;padding:3px 8px;text-align:right;white-space:nowrap}
    th{background:#f0f3f8;cursor:pointer;user-select:none;position:sticky;top:0}td.l,th.l{text-align:left}
    tr.row:hover{background:#f5f9ff;cursor:pointer}input{font-size:14px;padding:4px 8px;width:260px}
    .pager{margin:8px 0}.pager button{margin-right:6px}#detail{border:1px solid #ccd;border-radius:6px;padding:10px 16px;margin-top:16px}
    .examples{display:flex;flex-wrap:wrap;gap:8px}.ex{font-size:11px;text-align:center}.ex canvas{display:block;image-rendering:pixelated;border:1px solid #ddd}
    .bar{display:inline-block;height:10px;background:#3266a8;vertical-align:middle}.cols{display:flex;flex-wrap:wrap;gap:28px}
    table.list{width:auto;min-width:260px}.list td{text-align:left}svg text{font-size:10px;fill:#555}
    </style></head>
    <body><main>
    <h1 id="title">sae features</h1>
    <div id="summary"></div>
    <div id="detail" hidden></div>
    <h2>Latents</h2>
    <p><input id="search" placeholder="search: latent number or class name"> <span class="muted" id="count"></span></p>
    <div id="table"></div>
    <p class="muted">Written by <code>sae features</code>. Frequencies and activations over the vectors named above; an activation is a latent's code value when it is above 0.</p>
    <script>
    var SAE = {chunks: {}, waiting: {}, chunk: function (n, data) { SAE.chunks[n] = data; (SAE.waiting[n] || []).forEach(function (f) { f(); }); }};
    </script>
    <script src="data/latents.js"></script>
    <script>
    (function () {
      var meta = SAE.meta, L = SAE.latents, C = meta.classes || [];
      var cols = [["latent", "l"], ["frequency", ""], ["mean act.", ""], ["max act.", ""], ["top class (share)", "l"], ["nearest (cos)", "l"]];
      var order = L.map(function (_, j) { return j; }), sortKey = 1, sortDown = true, page = 0, shown = order;
      function fmt(v, digits) { if (v === 0) return "0"; var a = Math.abs(v); return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : v.toPrecision(digits || 3); }
      function pct(v) { return v === 0 ? "0" : (100 * v < 0.01 ? (100 * v).toExponential(1) : fmt(100 * v)) + "%"; }
      function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
      function className(k) { return k < 0 ? "" : (C[k] || ("class " + k)); }
      document.getElementById("title").textContent = "Features of " + meta.name;
      document.title = "sae features: " + meta.name;

      // Summary: the numbers, and the firing frequencies on a log10 scale (as SAE-Vis draws them).
      var dead = [], dense = [], logs = [];
      L.forEach(function (r, j) { if (r[0] === 0) dead.push(j); else logs.push(Math.log10(r[0])); if (r[0] > meta.denseFrequency) dense.push(j); });
      var lo = Math.min(-1, Math.floor(Math.min.apply(null, logs.length ? logs : [-1]))), bins = 40, counts = new Array(bins).fill(0);
      logs.forEach(function (v) { counts[Math.min(bins - 1, Math.floor((v - lo) / -lo * bins))]++; });
      var top = Math.max.apply(null, counts.concat([1])), w = 640, h = 150, bw = w / bins, svg = '<svg width="' + (w + 40) + '" height="' + (h + 34) + '">';
      counts.forEach(function (n, i) { var bh = n / top * h; svg += '<rect x="' + (30 + i * bw) + '" y="' + (h - bh + 4) + '" width="' + (bw - 1) + '" height="' + bh + '" fill="#3266a8"><title>' + n + ' latents</title></rect>'; });
      for (var t = lo; t <= 0; t++) svg += '<text x="' + (30 + (t - lo) / -lo * w) + '" y="' + (h + 18) + '" text-anchor="middle">1e' + t + '</text>';
      svg += '<text x="' + (30 + w / 2) + '" y="' + (h + 32) + '" text-anchor="middle">firing frequency (log10 scale), ' + top + ' latents in the tallest bar</text></svg>';
      function latentLinks(list) { return list.length ? list.slice(0, 200).map(function (j) { return '<a href="#L' + j + '">' + j + '</a>'; }).join(" ") + (list.length > 200 ? " …" : "") : "none"; }
      document.getElementById("summary").innerHTML =
        '<div class="stats"><div class="stat"><b>' + meta.latents + '</b>latents</div><div class="stat"><b>' + meta.vectors + '</b>vectors</div>' +
        '<div class="stat"><b>' + fmt(meta.l0, 4) + '</b>L0 (mean active latents)</div><div class="stat"><b>' + (meta.fvu === null ? "n/a" : fmt(meta.fvu, 4)) + '</b>FVU</div>' +
        '<div class="stat"><b>' + dead.length + '</b>dead (never fired here)</div><div class="stat"><b>' + dense.length + '</b>dense (fire on &gt; ' + pct(meta.denseFrequency) + ')</div></div>' +
        '<h3>Firing frequency of the latents that fired</h3>' + svg +
        '<p class="muted">Dead: ' + latentLinks(dead) + '<br>Dense: ' + latentLinks(dense) + '</p>';

      // The table: sortable, searchable, one page of 100 rows at a time.
      function value(j, k) { var r = L[j]; return [j, r[0], r[1], r[2], r[4], r[6]][k]; }
      function refresh() {
        var q = document.getElementById("search").value.trim().toLowerCase();
        shown = order.filter(function (j) { return !q || String(j) === q || className(L[j][3]).toLowerCase().indexOf(q) >= 0; });
        shown.sort(function (a, b) { var d = value(a, sortKey) - value(b, sortKey); return (sortDown ? -d : d) || a - b; });
        page = Math.min(page, Math.max(0, Math.ceil(shown.length / 100) - 1));
        draw();
      }
      function draw() {
        var rows = shown.slice(page * 100, page * 100 + 100), html = '<div class="pager"><button id="prev">&lt;</button><button id="next">&gt;</button> rows ' +
          (shown.length ? page * 100 + 1 : 0) + '–' + (page * 100 + rows.length) + ' of ' + shown.length + '</div><table><tr>';
        cols.forEach(function (c, k) { html += '<th class="' + c[1] + '" data-k="' + k + '">' + c[0] + (k === sortKey ? (sortDown ? " ▼" : " ▲") : "") + '</th>'; });
        html += '</tr>';
        rows.forEach(function (j) {
          var r = L[j];
          html += '<tr class="row" data-j="' + j + '"><td class="l">' + j + '</td><td>' + pct(r[0]) + '</td><td>' + fmt(r[1]) + '</td><td>' + fmt(r[2]) +
            '</td><td class="l">' + (r[3] < 0 ? "" : esc(className(r[3])) + " (" + pct(r[4]) + ")") + '</td><td class="l">' + (r[5] < 0 ? "" : r[5] + " (" + fmt(r[6]) + ")") + '</td></tr>';
        });
        document.getElementById("table").innerHTML = html + '</table>';
        document.getElementById("count").textContent = shown.length + " of " + L.length + " latents";
        document.getElementById("prev").onclick = function () { if (page > 0) { page--; draw(); } };
        document.getElementById("next").onclick = function () { if ((page + 1) * 100 < shown.length) { page++; draw(); } };
        Array.prototype.forEach.call(document.querySelectorAll("th"), function (th) {
          th.onclick = function () { var k = +th.dataset.k; sortDown = k === sortKey ? !sortDown : k !== 0; sortKey = k; draw(); refresh(); };
        });
        Array.prototype.forEach.call(document.querySelectorAll("tr.row"), function (tr) { tr.onclick = function () { location.hash = "L" + tr.dataset.j; }; });
      }
      document.getElementById("search").oninput = function () { page = 0; refresh(); };
      refresh();

      // A latent's section, from its chunk's script.
      function withChunk(n, f) {
        if (SAE.chunks[n]) return f();
        (SAE.waiting[n] = SAE.waiting[n] || []).push(f);
        if (SAE.waiting[n].length > 1) return;
        var s = document.createElement("script"); s.src = "data/chunk-" + n + ".js"; document.body.appendChild(s);
      }
      function image(b64, signed, scale) {
        var shape = meta.image, bytes = atob(b64), c = document.createElement("canvas");
        c.width = shape[1]; c.height = shape[0]; c.style.width = shape[1] * scale + "px"; c.style.height = shape[0] * scale + "px";
        var ctx = c.getContext("2d"), img = ctx.createImageData(shape[1], shape[0]);
        for (var i = 0; i < shape[0] * shape[1]; i++) {
          var v = bytes.charCodeAt(i), r, g, b;
          if (signed) { var s = (v - 128) / 127, m = 255 - Math.abs(s) * 220; r = s > 0 ? 255 : m; b = s < 0 ? 255 : m; g = m; }
          else { r = g = b = 255 - v; }
          img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
        }
        ctx.putImageData(img, 0, 0); return c;
      }
      function examples(list, rows) {
        var box = document.createElement("div"); box.className = meta.image ? "examples" : "";
        if (!meta.image) {
          var texts = list.some(function (e) { return (rows[e[1]] || {}).t !== undefined; });
          var t = '<table class="list"><tr><th class="l">activation</th><th class="l">row</th>' + (texts ? '<th class="l">text</th>' : '') + '</tr>';
          list.forEach(function (e) { var r = rows[e[1]] || {}; t += '<tr><td>' + fmt(e[0]) + '</td><td>' + e[1] + '</td>' + (texts ? '<td>' + esc(r.t || "") + '</td>' : '') + '</tr>'; });
          box.innerHTML = t + '</table>'; return box;
        }
        list.forEach(function (e) {
          var r = rows[e[1]] || {}, d = document.createElement("div"); d.className = "ex";
          d.appendChild(image(r.p, false, 2)); d.appendChild(document.createTextNode(fmt(e[0]) + (r.t ? " " + r.t : "")));
          d.title = "row " + e[1]; box.appendChild(d);
        });
        return box;
      }
      function histogram(hist) {
        var first = hist[0], counts = hist.slice(1), top = Math.max.apply(null, counts.concat([1])), w = 360, h = 110, bw = w / Math.max(counts.length, 1);
        var s = '<svg width="' + (w + 20) + '" height="' + (h + 30) + '">';
        counts.forEach(function (n, i) { var bh = n / top * h; s += '<rect x="' + (10 + i * bw) + '" y="' + (h - bh + 2) + '" width="' + Math.max(bw - 1, 1) + '" height="' + bh + '" fill="#3266a8"><title>' + n + '</title></rect>'; });
        var edge = function (i) { return fmt(Math.pow(10, meta.lowestDecade + (first + i) / meta.binsPerDecade), 2); };
        s += '<text x="10" y="' + (h + 16) + '">' + edge(0) + '</text><text x="' + (10 + w) + '" y="' + (h + 16) + '" text-anchor="end">' + edge(counts.length) + '</text>';
        return s + '<text x="' + (10 + w / 2) + '" y="' + (h + 28) + '" text-anchor="middle">activation (log scale)</text></svg>';
      }
      function show(j, scroll) {
        var box = document.getElementById("detail");
        if (!(j >= 0 && j < L.length)) { box.hidden = true; return; }
        box.hidden = false; box.innerHTML = "Loading latent " + j + "…";
        var n = Math.floor(j / meta.chunkSize);
        withChunk(n, function () {
          var c = SAE.chunks[n], x = c.latents[j], r = L[j];
          box.innerHTML = '<h2>Latent ' + j + '</h2><div class="stats"><div class="stat"><b>' + pct(r[0]) + '</b>fires on (' + x.fires + ' vectors)</div>' +
            '<div class="stat"><b>' + fmt(r[1]) + '</b>mean activation when active</div><div class="stat"><b>' + fmt(r[2]) + '</b>largest activation</div></div>';
          var top = document.createElement("div"); top.innerHTML = '<h3>Top activations</h3>'; box.appendChild(top);
          if (x.top.length) box.appendChild(examples(x.top, c.rows)); else top.innerHTML += '<p class="muted">It never fired on these vectors.</p>';
          var side = document.createElement("div"); side.className = "cols";
          var hist = '<div><h3>Its activations</h3>' + (x.top.length ? histogram(x.histogram) : "none") + '</div>';
          var sim = '<div><h3>Most similar latents (decoder cosine)</h3><table class="list">' + x.similar.map(function (s) {
            return '<tr><td><a href="#L' + s[0] + '">latent ' + s[0] + '</a></td><td>' + fmt(s[1]) + '</td></tr>'; }).join("") + '</table></div>';
          var cls = "";
          if (x.classes) {
            var total = x.classes.reduce(function (a, b) { return a + b; }, 0), tops = x.topClasses.reduce(function (a, b) { return a + b; }, 0);
            cls = '<div><h3>Classes it fires on</h3><table class="list"><tr><th class="l">class</th><th class="l">all activations</th><th class="l">top ' + tops + '</th></tr>' +
              x.classes.map(function (k, i) { return '<tr><td>' + esc(className(i)) + '</td><td><span class="bar" style="width:' + (total ? 80 * k / total : 0) + 'px"></span> ' +
                (total ? pct(k / total) : "") + '</td><td>' + x.topClasses[i] + '</td></tr>'; }).join("") + '</table></div>';
          }
          side.innerHTML = hist + cls + sim;
          if (x.decoder) { var dec = document.createElement("div"); dec.innerHTML = '<h3>Decoder row (red +, blue −)</h3>'; dec.appendChild(image(x.decoder, true, 4)); side.insertBefore(dec, side.firstChild); }
          box.appendChild(side);
          var q = document.createElement("div"); q.innerHTML = '<h3>Examples across its range (a uniform sample of its activations, in five bands of its largest)</h3>'; box.appendChild(q);
          x.bands.slice().reverse().forEach(function (b) {
            var h = document.createElement("div"); h.className = "muted"; h.textContent = fmt(b[0]) + " – " + fmt(b[1]) + ": " + b[2] + " of the sample";
            box.appendChild(h); if (b[3].length) box.appendChild(examples(b[3], c.rows));
          });
          if (scroll) box.scrollIntoView();
        });
      }
      // Opened from the page (a link, a row): scrolled to; opened with the address: below the summary.
      function route(scroll) { var m = /^#L(\\d+)$/.exec(location.hash); show(m ? +m[1] : -1, scroll); }
      window.addEventListener("hashchange", function () { route(true); }); route(false);
    })();
    </script>
    </main></body></html>

    """
}
