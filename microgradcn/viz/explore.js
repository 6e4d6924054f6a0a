// microgradcn graph explorer: our own small script, no libraries, nothing fetched.
// The page holds both Graphviz pictures (ids "node-n3", "book-e4_1", edges "node-n0--n2_op")
// and the numbers as JSON (#mgc-data, written by microgradcn/viz/explore.py).
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("mgc-data").textContent);
  var nodes = D.nodes, edges = D.edges, frames = D.frames;
  var N = nodes.length, LAST = D.output, END = frames.length; // frame END = the finished graph
  var state = {
    style: document.body.getAttribute("data-style") || "node",
    frame: END,
    selected: null,
    follow: true,
    timer: null,
    speed: 1,
    prepared: {},
    views: {},
    searchHits: [],
    searchAt: 0,
    searchQuery: ""
  };

  function $(id) { return document.getElementById(id); }

  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") e.textContent = attrs[k];
        else if (k === "onclick") e.addEventListener("click", attrs[k]);
        else e.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  function el(style, name) { return document.getElementById(style + "-" + name); }

  function edgeEls(style, tail, head) {
    var base = style + "-" + tail + "--" + head, out = [], e = document.getElementById(base), k = 2;
    while (e) { out.push(e); e = document.getElementById(base + "-" + k); k += 1; }
    return out;
  }

  // ---------- the pieces of each picture that belong to node i ----------
  // parts[style][i] = {nodes: [...], edges: [...]} drawn for node i and the arrows leaving it.
  function partsOf(style, i) {
    var id = "n" + i, ns = [el(style, id)], es = [], tail = id;
    if (style === "book" && nodes[i].uses.length > 1) { // one arrow to a branch point, then one per use
      tail = "s" + i;
      ns.push(el(style, "t" + i), el(style, tail));
      es = es.concat(edgeEls(style, id, "t" + i), edgeEls(style, "t" + i, tail));
    }
    nodes[i].uses.forEach(function (u) {
      var j = u[0], slot = u[1];
      if (style === "node") {
        ns.push(el(style, "n" + j + "_op"));
        es = es.concat(edgeEls(style, id, "n" + j + "_op"), edgeEls(style, "n" + j + "_op", "n" + j));
      } else {
        var mid = "e" + j + "_" + slot;
        ns.push(el(style, mid));
        es = es.concat(edgeEls(style, tail, mid), edgeEls(style, mid, "n" + j));
      }
    });
    if (i === LAST && style === "book") {
      ns.push(el(style, "e_out"), el(style, "out"));
      es = es.concat(edgeEls(style, id, "e_out"), edgeEls(style, "e_out", "out"));
    }
    return { nodes: ns.filter(Boolean), edges: es };
  }

  // Which node a click on an SVG group means.
  function nodeOfGroup(style, gid) {
    var name = gid.slice(style.length + 1), m;
    if ((m = /^n(\d+)(_op)?$/.exec(name))) return +m[1];
    if ((m = /^e(\d+)_(\d+)$/.exec(name))) return nodes[+m[1]].parents[+m[2]];
    if ((m = /^[ts](\d+)$/.exec(name))) return +m[1];
    if (name === "e_out" || name === "out") return LAST;
    return null;
  }

  // ---------- numbers that appear when they are computed ----------
  function slots(style) {
    var out = [];
    if (style === "node") {
      nodes.forEach(function (v, i) {
        var texts = el(style, "n" + i).querySelectorAll("text"), k = texts.length;
        out.push({ t: texts[k - 2], known: "data " + v.data, unknown: "data ?", at: v.dataFrame, node: i });
        out.push({ t: texts[k - 1], known: "grad " + v.grad, unknown: "grad ?", at: v.gradFrame, node: i });
      });
    } else {
      edges.forEach(function (e) { // the last two texts: an arrow may carry its value's name first
        var texts = el(style, e.id).querySelectorAll("text"), k = texts.length;
        out.push({ t: texts[k - 2], known: e.data, unknown: "?", at: e.dataFrame, node: e.parent });
        out.push({ t: texts[k - 1], known: e.grad, unknown: "?", at: e.gradFrame, node: e.parent });
      });
    }
    return out.filter(function (s) { return s.t; });
  }

  function prepare(style) {
    if (state.prepared[style]) return;
    var box = $("graph-" + style), svg = box.querySelector("svg");
    var vb = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number);
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    var list = slots(style);
    list.forEach(function (s) { // centre each number on where Graphviz put it, so "?" sits in the middle
      var b = s.t.getBBox();
      if (!b.width) return; // not laid out (a hidden iframe): keep Graphviz's placement
      s.t.setAttribute("text-anchor", "middle");
      s.t.setAttribute("x", (b.x + b.width / 2).toFixed(2));
      s.t.classList.add("num");
    });
    var parts = [];
    for (var i = 0; i < N; i++) parts.push(partsOf(style, i));
    box.querySelectorAll("g.node").forEach(function (g) {
      var i = nodeOfGroup(style, g.id), title = g.querySelector("title");
      if (i !== null) g.setAttribute("data-node", i);
      if (title && i !== null) title.textContent = nodes[i].name + "(点击查看链式法则)";
    });
    box.querySelectorAll("g.edge").forEach(function (g) { // the red arrows pointing back carry gradients
      var path = g.querySelector("path");
      if (path && path.getAttribute("stroke") === D.gradColor) g.classList.add("back");
    });
    box.querySelectorAll("g.edge > title, g.graph > title").forEach(function (t) { t.remove(); });
    state.prepared[style] = { svg: svg, slots: list, parts: parts, shown: {} };
    state.views[style] = { home: vb.slice(), vb: vb.slice() };
    fit(style);
  }

  // ---------- zoom and pan (the SVG viewBox) ----------
  function setViewBox(style) {
    var v = state.views[style];
    state.prepared[style].svg.setAttribute("viewBox", v.vb.map(function (x) { return x.toFixed(2); }).join(" "));
  }

  function unitsPerPixel(style) {
    var v = state.views[style], box = $("graph-" + style);
    return Math.max(v.vb[2] / Math.max(box.clientWidth, 1), v.vb[3] / Math.max(box.clientHeight, 1));
  }

  function fit(style) {
    var v = state.views[style], box = $("graph-" + style), m = 0.03;
    var home = [v.home[0] - m * v.home[2], v.home[1] - m * v.home[3], v.home[2] * (1 + 2 * m), v.home[3] * (1 + 2 * m)];
    var w = Math.max(box.clientWidth, 1), hgt = Math.max(box.clientHeight, 1);
    var maxScale = 1.6; // small graphs are not blown up beyond this
    if (Math.min(w / home[2], hgt / home[3]) > maxScale) {
      var nw = w / maxScale, nh = hgt / maxScale;
      home = [home[0] - (nw - home[2]) / 2, home[1] - (nh - home[3]) / 2, nw, nh];
    }
    v.vb = home;
    setViewBox(style);
  }

  function zoom(style, k, cx, cy) {
    var v = state.views[style], svg = state.prepared[style].svg, p;
    if (cx === undefined) {
      p = { x: v.vb[0] + v.vb[2] / 2, y: v.vb[1] + v.vb[3] / 2 };
    } else {
      p = toSvg(svg, cx, cy);
    }
    var w = v.vb[2] * k, hh = v.vb[3] * k;
    if (w > v.home[2] * 8 || w < 20) return;
    v.vb = [p.x - (p.x - v.vb[0]) * k, p.y - (p.y - v.vb[1]) * k, w, hh];
    setViewBox(style);
  }

  function toSvg(svg, cx, cy) {
    var pt = svg.createSVGPoint();
    pt.x = cx; pt.y = cy;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }

  function centreOn(style, i) {
    var g = el(style, "n" + i), svg = state.prepared[style].svg, v = state.views[style];
    if (!g) return;
    if (unitsPerPixel(style) > 1.25) zoom(style, 1.25 / unitsPerPixel(style));
    var r = g.getBoundingClientRect();
    var c = toSvg(svg, r.left + r.width / 2, r.top + r.height / 2);
    v.vb = [c.x - v.vb[2] / 2, c.y - v.vb[3] / 2, v.vb[2], v.vb[3]];
    setViewBox(style);
  }

  // ---------- drawing the state ----------
  function pathSet(i) { // i and every node on a path from i to the output
    var seen = {}, stack = [i];
    seen[i] = true;
    while (stack.length) {
      nodes[stack.pop()].uses.forEach(function (u) {
        if (!seen[u[0]]) { seen[u[0]] = true; stack.push(u[0]); }
      });
    }
    return seen;
  }

  function drawPicture(style, animate) {
    var P = state.prepared[style], f = state.frame;
    P.slots.forEach(function (s, k) {
      var known = f >= s.at, text = known ? s.known : s.unknown;
      if (s.t.textContent !== text) {
        s.t.textContent = text;
        if (known && animate) {
          s.t.classList.remove("fresh");
          void s.t.getBBox(); // restart the animation
          s.t.classList.add("fresh");
        }
      }
      s.t.classList.toggle("unknown", !known);
      P.shown[k] = known;
    });
    P.svg.querySelectorAll(".cur, .on, .sel").forEach(function (g) { g.classList.remove("cur", "on", "sel"); });
    if (f < END) {
      var cur = frames[f].node, parts = P.parts[cur];
      el(style, "n" + cur).classList.add("cur");
      if (style === "node" && nodes[cur].parents.length) el(style, "n" + cur + "_op").classList.add("cur");
      if (style === "book") { // a forward step lights the arrows forward, a backward step those pointing back
        var back = frames[f].phase === "backward";
        parts.edges.forEach(function (g) { if (g.classList.contains("back") === back) g.classList.add("cur"); });
      }
    }
    var sel = state.follow ? null : state.selected; // paths are drawn for a node the learner chose
    P.svg.classList.toggle("dim", sel !== null);
    if (sel !== null) {
      var on = pathSet(sel);
      Object.keys(on).forEach(function (k) {
        var parts = P.parts[+k];
        parts.nodes.forEach(function (g) { g.classList.add("on"); });
        parts.edges.forEach(function (g) { g.classList.add("on"); });
      });
      el(style, "n" + sel).classList.add("sel");
    }
  }

  function row(label, value, id, cls) {
    return h("div", { "class": "row" }, [
      h("span", { "class": "key", text: label }),
      h("span", { "class": "val " + (cls || ""), id: id, text: value })
    ]);
  }

  function chip(i) {
    return h("button", {
      "class": "chip kind-" + nodes[i].kind, text: nodes[i].name,
      onclick: function () { select(i, true); }
    });
  }

  function drawPanel() {
    var panel = $("panel"), i = state.selected, f = state.frame;
    panel.textContent = "";
    if (i === null) {
      panel.appendChild(h("div", { "class": "empty" }, [
        h("h2", { text: "点一个节点" }),
        h("p", { text: "右边会显示它的数值、局部导数和链式法则;从输出到它的所有路径会在图中高亮。" }),
        legend()
      ]));
      return;
    }
    var v = nodes[i], root = nodes[LAST].name;
    var dataKnown = f >= v.dataFrame, gradKnown = f >= v.gradFrame;
    panel.appendChild(h("div", { "class": "title" }, [
      h("span", { "class": "badge kind-" + v.kind, text: v.kindText }),
      h("h2", { id: "panel-name", text: v.name })
    ]));
    panel.appendChild(row("运算", v.op ? v.symbol + "(" + v.opText + ")" : "无(叶子节点)", "panel-op"));
    panel.appendChild(row("前向值 data", dataKnown ? v.data : "?", "panel-data", dataKnown ? "" : "unknown"));
    panel.appendChild(row("梯度 grad", gradKnown ? v.grad : "?", "panel-grad", gradKnown ? "grad" : "unknown"));
    panel.appendChild(h("h3", { text: "前向:它是怎么算出来的" }));
    panel.appendChild(h("p", {
      "class": "formula", id: "panel-forward",
      text: dataKnown ? v.forward : "前向传播还没有算到这里。"
    }));
    panel.appendChild(h("h3", { text: "局部导数(对每个父节点)" }));
    if (v.locals.length) {
      panel.appendChild(h("ul", { "class": "formula", id: "panel-locals" }, v.locals.map(function (l) {
        return h("li", { text: dataKnown ? l.text : l.text.replace(/ = .*$/, " = ?") });
      })));
    } else {
      panel.appendChild(h("p", { "class": "note", id: "panel-locals", text: "叶子节点没有父节点:它是图的起点。" }));
    }
    panel.appendChild(h("h3", { text: "反向:链式法则" }));
    panel.appendChild(h("p", {
      "class": "formula chain", id: "panel-chain",
      text: gradKnown ? v.backward : "反向传播还没有算到这里:要等使用它的节点的梯度都算完。"
    }));
    if (v.terms.length > 1) { // gradients add up: one term per arrow leaving this node
      panel.appendChild(h("h3", { text: "梯度从哪里来(每个使用处一项,相加)" }));
      panel.appendChild(h("ul", { "class": "formula", id: "panel-terms" }, v.terms.map(function (t) {
        return h("li", { text: gradKnown ? t.text : t.text.replace(/:.*$/, ":?") });
      }).concat([h("li", { "class": "sum", text: "合计 " + (gradKnown ? v.grad : "?") })])));
    }
    var paths = v.paths === "1" ? "从输出 " + root + " 到这里有 1 条路径(图中高亮)。"
      : "从输出 " + root + " 到这里有 " + v.paths + " 条路径(图中高亮):梯度是各条路径的贡献之和。";
    if (i !== LAST) panel.appendChild(h("p", { "class": "note", id: "panel-paths", text: paths }));
    if (v.parents.length) {
      panel.appendChild(h("h3", { text: "父节点(输入)" }));
      panel.appendChild(h("div", { "class": "chips" }, v.parents.map(chip)));
    }
    if (v.uses.length) {
      panel.appendChild(h("h3", { text: "使用它的节点" }));
      panel.appendChild(h("div", { "class": "chips" }, v.uses.map(function (u) { return chip(u[0]); })));
    }
    panel.appendChild(legend());
  }

  function legend() {
    var items = [["input", "输入"], ["param", "参数"], ["const", "常数"], ["intermediate", "中间结果"],
      ["output", "输出"]];
    return h("div", { "class": "legend" }, items.map(function (it) {
      return h("span", { "class": "sw" }, [
        h("i", { style: "background:" + D.colors[it[0]] }), document.createTextNode(it[1])
      ]);
    }).concat([h("span", { "class": "sw" }, [h("i", { "class": "path" }), document.createTextNode("到输出的路径")])]));
  }

  function drawControls() {
    var f = state.frame, cap = $("caption"), label;
    if (f < END) {
      var fr = frames[f];
      label = (fr.phase === "forward" ? "前向 " : "反向 ") + fr.step + "/" + N;
      cap.textContent = fr.text;
      cap.className = "caption " + fr.phase;
    } else {
      label = "全部算完";
      cap.textContent = "前向 " + N + " 步、反向 " + N + " 步都已算完。点击任意节点查看它的链式法则,或按 ▶ 播放。";
      cap.className = "caption done";
    }
    $("step-label").textContent = label;
    $("timeline").value = f;
    $("btn-play").textContent = state.timer ? "❚❚ 暂停" : "▶ 播放";
    $("style-node").classList.toggle("active", state.style === "node");
    $("style-book").classList.toggle("active", state.style === "book");
    document.body.setAttribute("data-frame", f);
  }

  function draw(animate) {
    drawPicture(state.style, animate);
    drawPanel();
    drawControls();
  }

  // ---------- actions ----------
  function go(f, animate) {
    f = Math.max(0, Math.min(END, f));
    state.frame = f;
    if (f < END && state.follow) state.selected = frames[f].node;
    draw(animate);
    if (f < END) keepInView(state.style, frames[f].node);
  }

  function step(delta) { state.follow = true; go(state.frame + delta, delta > 0); }

  function keepInView(style, i) { // pan (never zoom) so the node being computed stays on screen
    var g = el(style, "n" + i), stage = $("stage").getBoundingClientRect();
    if (!g) return;
    var r = g.getBoundingClientRect();
    if (r.left >= stage.left && r.right <= stage.right && r.top >= stage.top && r.bottom <= stage.bottom) return;
    var svg = state.prepared[style].svg, v = state.views[style];
    var c = toSvg(svg, r.left + r.width / 2, r.top + r.height / 2);
    v.vb = [c.x - v.vb[2] / 2, c.y - v.vb[3] / 2, v.vb[2], v.vb[3]];
    setViewBox(style);
  }

  function stop() {
    if (state.timer) { clearTimeout(state.timer); state.timer = null; }
  }

  function play() {
    if (state.timer) { stop(); drawControls(); return; }
    if (state.frame >= END) go(0, true);
    state.follow = true;
    next();
    drawControls();
  }

  // Each step stays long enough to read its caption (frames[f].ms, the GIF's rule), divided by the speed.
  function next() {
    state.timer = setTimeout(function () {
      if (state.frame >= END - 1) { state.timer = null; go(END, true); return; }
      go(state.frame + 1, true);
      next();
    }, frames[state.frame].ms / state.speed);
  }

  function select(i, centre) {
    state.selected = i;
    state.follow = false;
    draw(false);
    if (centre && i !== null) centreOn(state.style, i);
  }

  function setStyle(style) {
    state.style = style;
    document.body.setAttribute("data-style", style);
    prepare(style);
    draw(false);
  }

  function search() {
    var q = $("search").value.trim(), msg = $("search-msg");
    if (!q) return;
    if (q !== state.searchQuery) {
      var lower = q.toLowerCase(), exact = [], part = [];
      nodes.forEach(function (v, i) {
        var name = v.name.toLowerCase();
        if (name === lower) exact.push(i);
        else if (name.indexOf(lower) >= 0) part.push(i);
      });
      state.searchHits = exact.concat(part);
      state.searchAt = 0;
      state.searchQuery = q;
    } else {
      state.searchAt = (state.searchAt + 1) % Math.max(state.searchHits.length, 1);
    }
    var hits = state.searchHits;
    if (!hits.length) {
      msg.textContent = "没有找到名字包含“" + q + "”的节点";
    } else {
      select(hits[state.searchAt], true);
      msg.textContent = hits.length === 1 ? "找到:" + nodes[hits[0]].name
        : "找到 " + hits.length + " 个,这是第 " + (state.searchAt + 1) + " 个(再按回车看下一个)";
    }
    msg.classList.add("show");
    clearTimeout(search.t);
    search.t = setTimeout(function () { msg.classList.remove("show"); }, 2600);
  }

  // ---------- wiring ----------
  function wire() {
    $("style-node").onclick = function () { setStyle("node"); };
    $("style-book").onclick = function () { setStyle("book"); };
    $("btn-forward").onclick = function () { stop(); state.follow = true; go(0, true); };
    $("btn-backward").onclick = function () { stop(); state.follow = true; go(N, true); };
    $("btn-prev").onclick = function () { stop(); step(-1); };
    $("btn-next").onclick = function () { stop(); step(1); };
    $("btn-end").onclick = function () { stop(); go(END, false); };
    $("btn-play").onclick = play;
    $("speed").onchange = function () {
      state.speed = +this.value;
      if (state.timer) { stop(); play(); }
    };
    $("timeline").oninput = function () { stop(); state.follow = true; go(+this.value, false); };
    $("search-go").onclick = search;
    $("search").addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); search(); } });
    $("zoom-in").onclick = function () { zoom(state.style, 1 / 1.3); };
    $("zoom-out").onclick = function () { zoom(state.style, 1.3); };
    $("zoom-fit").onclick = function () { fit(state.style); };
    var list = $("labels");
    nodes.forEach(function (v) { if (v.label) list.appendChild(h("option", { value: v.label })); });

    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if (tag === "input" && e.target.type !== "range" || tag === "select" || tag === "textarea") return;
      if (e.key === "ArrowRight") { e.preventDefault(); stop(); step(1); }
      else if (e.key === "ArrowLeft") { e.preventDefault(); stop(); step(-1); }
      else if (e.key === " ") { e.preventDefault(); play(); }
      else if (e.key === "Home") { stop(); go(0, true); }
      else if (e.key === "End") { stop(); go(END, false); }
      else if (e.key === "Escape") { select(null); }
    });
    document.addEventListener("keyup", function (e) { // space on a focused button means play, not click
      var tag = (e.target.tagName || "").toLowerCase();
      if (e.key === " " && tag === "button") e.preventDefault();
    });

    var stage = $("stage"), drag = null;
    stage.addEventListener("wheel", function (e) {
      e.preventDefault();
      zoom(state.style, e.deltaY < 0 ? 1 / 1.15 : 1.15, e.clientX, e.clientY);
    }, { passive: false });
    stage.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, vb: state.views[state.style].vb.slice(), moved: false, target: e.target,
        upp: unitsPerPixel(state.style) };
    });
    window.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      stage.classList.add("dragging");
      var v = state.views[state.style];
      v.vb = [drag.vb[0] - dx * drag.upp, drag.vb[1] - dy * drag.upp, drag.vb[2], drag.vb[3]];
      setViewBox(state.style);
    });
    window.addEventListener("pointerup", function () {
      if (!drag) return;
      var d = drag;
      drag = null;
      stage.classList.remove("dragging");
      if (d.moved) return;
      var g = d.target.closest ? d.target.closest("g.node[data-node]") : null;
      if (g) { stop(); select(+g.getAttribute("data-node"), false); }
      else if (stage.contains(d.target)) select(null);
    });
    window.addEventListener("resize", function () { fit(state.style); });
  }

  wire();
  document.body.setAttribute("data-style", state.style);
  prepare(state.style);
  draw(false);
  document.body.classList.add("ready");
}());
