// microgradcn explorer for graphs built by modules: one level at a time, boxes open in place.
// Our own code, no library; the numbers are decompressed by the browser itself (nothing is fetched).
"use strict";
(async function () {
  const SVG = "http://www.w3.org/2000/svg";
  const NODE = 0, PARAM = 1, BOX = 2, STUB = 3, OUT = 4;
  const KIND_TEXT = ["输入", "参数", "常数", "中间结果", "输出"];
  const $ = (id) => document.getElementById(id);

  async function unpack(id) {
    const text = $(id).textContent.trim();
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let k = 0; k < raw.length; k++) bytes[k] = raw.charCodeAt(k);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  const M = JSON.parse(new TextDecoder().decode(await unpack("mgc-meta")));
  const numbers = await unpack("mgc-numbers");
  const A = {};
  const TYPES = { f64: Float64Array, i32: Int32Array, u8: Uint8Array };
  for (const [name, type, at, length] of M.arrays) {
    A[name] = new TYPES[type](numbers.buffer, numbers.byteOffset + at, length);
  }
  const n = M.n, m = M.m, END = 2 * m, names = M.names, boxes = M.boxes;
  const root = n - 1;

  // Parents (CSR) and uses (the reverse), made once: linear in the number of arrows.
  const parentStart = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) parentStart[i + 1] = parentStart[i] + A.nparents[i];
  const useCount = new Int32Array(n + 1);
  for (let e = 0; e < A.parents.length; e++) useCount[A.parents[e] + 1]++;
  for (let i = 0; i < n; i++) useCount[i + 1] += useCount[i];
  const useStart = useCount.slice();
  const useNode = new Int32Array(A.parents.length), useSlot = new Int32Array(A.parents.length);
  const fill = useStart.slice();
  for (let j = 0; j < n; j++) {
    for (let s = 0; s < A.nparents[j]; s++) {
      const p = A.parents[parentStart[j] + s];
      useNode[fill[p]] = j; useSlot[fill[p]] = s; fill[p]++;
    }
  }
  const calls = A.callBox.length;
  const kids = Array.from({ length: calls + 1 }, () => []);
  for (let c = 0; c < calls; c++) kids[A.callParent[c] + 1].push(c);

  // ------------------------------------------------------------------ words and numbers
  function fmt(x) {
    if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
    return String(Number(x.toPrecision(6)));
  }
  const callName = (c) => `${boxes[A.callBox[c]][0]}[${A.callNumber[c]}]`;
  function short(i) {  // the name inside its own box: 'relu#1', 'w.1'
    const name = names[i], cut = name.lastIndexOf(" · ");
    if (cut >= 0) return name.slice(cut + 3);
    const h = A.home[i];
    if (A.kind[i] === 1 && h >= 0) {
      const title = boxes[A.callBox[h]][0];
      if (name.startsWith(title + ".")) return name.slice(title.length + 1);
    }
    return name;
  }
  const d = (a, b) => `∂${a}/∂${b}`;

  const PALETTE = M.palette;  // norm_colours.PALETTE
  function colour(norm) {
    if (!(norm > 0 && Number.isFinite(norm))) return "#e5e7eb";  // zero, or not a number: no colour on the scale
    const u = Math.min(1, Math.max(0, (Math.log10(norm) - scale.lo) / (scale.hi - scale.lo)));
    const x = u * (PALETTE.length - 1), k = Math.min(PALETTE.length - 2, Math.floor(x)), f = x - k;
    const rgb = PALETTE[k].map((v, q) => Math.round(v + (PALETTE[k + 1][q] - v) * f));
    return `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
  }
  const scale = { lo: M.normScale[0], hi: M.normScale[1] };  // norm_colours.norm_scale, as draw_graph's boxes

  // ------------------------------------------------------------------ state
  let level = -1, items = [], kinds = [], steps = [0, END], pos = 1, selected = -1, timer = null;
  let zoom = 1, size = [1, 1];

  function group(c, first) {  // the calls of first's box directly inside call c
    return kids[c + 1].filter((k) => A.callBox[k] === A.callBox[first]);
  }
  function keys(k) {  // [forward frame, backward frame] at which item k is known
    const ref = items[k];
    switch (kinds[k]) {
      case NODE: return [A.dataFrame[ref], A.gradFrame[ref]];
      case PARAM: return [0, A.gradFrame[ref]];
      case BOX: {
        let f = 0, b = 0;
        for (const c of group(level, ref)) { f = Math.max(f, A.callFwd[c]); b = Math.max(b, A.callBwd[c]); }
        return [f, b];
      }
      default: return [0, END + 1];
    }
  }

  // ------------------------------------------------------------------ drawing one level
  function el(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, content, cls) {
    const t = el("text", { x, y, "text-anchor": "middle", class: cls || "" }, parent);
    t.textContent = content;
    return t;
  }

  function open(c, keepFrame) {
    level = c;
    const s = A.levelStructure[c + 1], st = M.structures[s];
    const a = A.levelStart[c + 1], b = A.levelStart[c + 2];
    items = Array.from(A.levelItems.subarray(a, b));
    kinds = st.kinds;
    const svg = $("level");
    svg.textContent = "";
    const pad = 20, lay = st.layout;
    const W = lay.w + 2 * pad, H = lay.h + 2 * pad, stage = $("scroller");
    svg.setAttribute("viewBox", `${-pad} ${-pad} ${W} ${H}`);
    size = [W, H];
    // Fit the level to the stage, but never so small that names cannot be read: scroll instead (适应 shows all).
    const fit = Math.min(stage.clientWidth / W, stage.clientHeight / H);
    zoomTo(Math.min(1.4, Math.max(fit, 0.75)));
    stage.scrollTo(0, Math.max(0, (H * zoom - stage.clientHeight) / 2));
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "head", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#64748b" }, marker);
    st.arrows.forEach(([from, to, count], k) => {
      const p = lay.arrows[k];
      if (!p || p.length < 4) return;
      let path = `M${p[0]},${p[1]}`;
      for (let q = 2; q + 5 < p.length; q += 6) path += ` C${p[q]},${p[q + 1]} ${p[q + 2]},${p[q + 3]} ${p[q + 4]},${p[q + 5]}`;
      el("path", { d: path, class: "arrow", "marker-end": "url(#head)", "data-from": from, "data-to": to }, svg);
      if (count > 1) {
        const mid = 2 * Math.floor(p.length / 4);
        text(svg, p[mid], p[mid + 1] - 4, String(count), "count");
      }
    });
    items.forEach((ref, k) => drawItem(svg, k, ref, lay.items[k]));
    $("legend").hidden = !kinds.includes(BOX);  // the colours are those of boxes
    crumbs();
    steps = levelSteps();
    if (!keepFrame) pos = steps.length - 1;
    pos = Math.min(pos, steps.length - 1);
    show();
  }

  function zoomTo(z) {
    zoom = Math.min(3, Math.max(0.05, z));
    $("level").setAttribute("width", Math.floor(size[0] * zoom));
    $("level").setAttribute("height", Math.floor(size[1] * zoom));
    document.body.dataset.zoom = zoom.toFixed(3);
  }

  function drawItem(svg, k, ref, [x, y]) {
    const kind = kinds[k], [w, h] = M.sizes[kind];
    const g = el("g", { class: `item k${kind}`, "data-slot": k }, svg);
    const rect = el("rect", { x: x - w / 2, y: y - h / 2, width: w, height: h, rx: kind === BOX ? 10 : 6 }, g);
    if (kind === NODE || kind === PARAM) {
      g.id = `it-n${ref}`;
      g.dataset.node = ref;
      g.dataset.name = names[ref];
      text(g, x, y - 6, short(ref), "name");
      text(g, x, y + 12, "", "nums");
      g.addEventListener("click", () => select(ref));
    } else if (kind === BOX) {
      const box = A.callBox[ref], calls = group(level, ref), sizes = calls.map((c) => A.callSize[c]);
      const lo = sizes.reduce((a, b) => Math.min(a, b)), hi = sizes.reduce((a, b) => Math.max(a, b));
      g.id = `it-b${box}`;
      g.dataset.call = ref;
      g.dataset.title = boxes[box][0];
      g.dataset.norm = A.boxNorm[box];
      if (boxes[box][4] === 1) g.classList.add("outputs-norm");
      text(g, x, y - 16, boxes[box][0] + (calls.length > 1 ? ` ×${calls.length}` : ""), "name");
      text(g, x, y + 2, `${boxes[box][1]} · 每次 ${lo === hi ? lo : lo + "–" + hi} 个节点`, "kind");
      text(g, x, y + 19, "", "nums");
      g.addEventListener("click", () => open(ref));
      rect.setAttribute("data-fill", colour(A.boxNorm[box]));
    } else if (kind === STUB) {
      g.dataset.node = ref;
      g.id = `it-s${ref}`;
      const label = names[ref].length > 36 ? "…" + names[ref].slice(-35) : names[ref];
      text(g, x, y + 4, label, "stub");
      g.addEventListener("click", () => select(ref));
    } else {
      text(g, x, y + 4, "→ 外部", "stub");
    }
  }

  function levelSteps() {
    const fwd = new Set(), bwd = new Set();
    items.forEach((_, k) => {
      if (kinds[k] === OUT || kinds[k] === STUB) return;
      const [f, b] = keys(k);
      if (f > 0) fwd.add(f);
      if (b <= END) bwd.add(b);
    });
    const order = (s) => Array.from(s).sort((p, q) => p - q);
    const out = [0, ...order(fwd), ...order(bwd)];
    if (out[out.length - 1] !== END) out.push(END);
    return out;
  }

  function show() {
    const t = steps[pos];
    const svg = $("level");
    let lit = null;
    svg.querySelectorAll("g.item").forEach((g) => {
      const k = +g.dataset.slot, kind = kinds[k], ref = items[k];
      if (kind === OUT) return;
      const [f, b] = kind === STUB ? [0, END + 1] : keys(k);
      const hasData = f <= t, hasGrad = b <= t;
      g.classList.toggle("pending", !hasData);
      if (pos > 0 && (f === t || b === t)) lit = g;
      g.classList.toggle("now", pos > 0 && (f === t || b === t) && t !== END);
      const nums = g.querySelector(".nums");
      if (kind === NODE || kind === PARAM) {
        nums.textContent = `${hasData ? fmt(A.data[ref]) : "?"} | ∇ ${hasGrad ? fmt(A.grad[ref]) : "?"}`;
      } else if (kind === BOX) {
        const box = A.callBox[ref], rect = g.querySelector("rect");
        const norm = A.boxNorm[box];
        nums.textContent = hasGrad ? `${boxes[box][4] ? "‖∂根/∂输出‖₂" : "‖∂根/∂参数‖₂"} = ${fmt(norm)}` : "";
        rect.style.fill = hasGrad ? rect.getAttribute("data-fill") : "";
        g.classList.toggle("dark", hasGrad && norm > 0 && (Math.log10(norm) - scale.lo) / (scale.hi - scale.lo) < 0.55);
        g.dataset.lit = hasGrad ? "1" : "0";
      }
    });
    document.body.dataset.step = pos;
    document.body.dataset.frame = t;
    const cap = $("caption");
    const nf = steps.filter((s) => s > 0 && s <= m).length;
    if (t === END || pos === steps.length - 1) {
      cap.className = "caption done";
      cap.textContent = kinds.includes(BOX)
        ? "全部数值已知:每个方框按梯度范数着色(颜色见右下角图例)。点方框打开它,点节点看链式法则。"
        : "全部数值已知。点一个节点,看它的数值和链式法则;上方的路径回到上一层。";
    } else if (pos === 0) {
      cap.className = "caption";
      cap.textContent = "开始:只有输入和参数已知。";
    } else if (t <= m) {
      cap.className = "caption forward";
      cap.textContent = `前向传播 ${pos}/${nf}:算出 ${lit ? itemName(+lit.dataset.slot) : ""}`;
    } else {
      cap.className = "caption backward";
      cap.textContent = `反向传播 ${pos - nf}/${steps.length - 1 - nf}:${lit ? itemName(+lit.dataset.slot) : ""} 的梯度已知`;
    }
    if (selected >= 0) mark(selected, false);
  }

  function itemName(k) {
    return kinds[k] === BOX ? boxes[A.callBox[items[k]]][0] : names[items[k]];
  }

  function crumbs() {
    const nav = $("crumbs");
    nav.textContent = "";
    const path = [];
    for (let c = level; c >= 0; c = A.callParent[c]) path.unshift(c);
    const top = document.createElement("button");
    top.textContent = "顶层";
    top.className = "crumb";
    top.addEventListener("click", () => open(-1));
    nav.appendChild(top);
    for (const c of path) {
      nav.appendChild(document.createTextNode(" › "));
      const b = document.createElement("button");
      b.className = "crumb";
      b.textContent = callName(c);
      b.addEventListener("click", () => open(c));
      nav.appendChild(b);
    }
    const chooser = $("chooser"), label = $("chooser-label");
    const siblings = level >= 0 ? group(A.callParent[level], level) : [];
    label.hidden = siblings.length < 2;
    chooser.textContent = "";
    siblings.forEach((c) => {
      const o = document.createElement("option");
      o.value = c; o.textContent = callName(c); o.selected = c === level;
      chooser.appendChild(o);
    });
  }

  // ------------------------------------------------------------------ one node: its numbers and chain rule
  function select(i) {
    selected = i;
    if (!$(`it-n${i}`)) open(A.home[i], true);
    mark(i);
    panel(i);
  }
  function mark(i, scroll = true) {
    document.querySelectorAll("#level .sel, #level .on").forEach((e) => e.classList.remove("sel", "on"));
    const g = $(`it-n${i}`) || $(`it-s${i}`);
    if (g) {
      g.classList.add("sel");
      const slot = g.dataset.slot;  // the arrows in and out of it: where its value goes, where its gradient comes from
      document.querySelectorAll(`#level .arrow[data-from="${slot}"], #level .arrow[data-to="${slot}"]`)
        .forEach((a) => a.classList.add("on"));
      if (scroll) g.scrollIntoView({ block: "center", inline: "center" });
    }
  }

  function chip(i) {
    const b = document.createElement("button");
    b.className = "chip";
    b.textContent = names[i];
    b.addEventListener("click", () => select(i));
    return b;
  }
  function row(parent, title, id, content) {
    const h = document.createElement("h3");
    h.textContent = title;
    parent.appendChild(h);
    const p = document.createElement("div");
    p.id = id;
    p.className = "line";
    if (content instanceof Node) p.appendChild(content); else p.textContent = content;
    parent.appendChild(p);
    return p;
  }

  function panel(i) {
    const P = $("panel"), name = names[i], rootName = names[root];
    P.textContent = "";
    const head = document.createElement("div");
    head.className = "title";
    const h2 = document.createElement("h2");
    h2.id = "panel-name";
    h2.textContent = name;
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.id = "panel-kind";
    badge.textContent = KIND_TEXT[A.kind[i]];
    head.append(h2, badge);
    P.appendChild(head);
    row(P, "数值 data", "panel-data", fmt(A.data[i]));
    row(P, `梯度 ${d(rootName, name)}`, "panel-grad", fmt(A.grad[i]));
    const np = A.nparents[i], op = M.ops[A.op[i]];
    if (np) {
      row(P, "运算 op", "panel-op", `${M.opTexts[A.op[i]]}(${op})`);
      row(P, "前向 forward", "panel-forward", forward(i));
      const lines = [];
      for (let s = 0; s < np; s++) {
        const p = A.parents[parentStart[i] + s];
        lines.push(`${d(name, names[p])} = ${fmt(A.local[parentStart[i] + s])}`);
      }
      row(P, "局部导数 local derivatives", "panel-locals", lines.join("\n"));
    } else {
      row(P, "运算 op", "panel-op", "无(叶子节点)");
    }
    row(P, "链式法则 chain rule", "panel-chain", chain(i));
    const around = document.createElement("div");
    for (let s = 0; s < np; s++) around.appendChild(chip(A.parents[parentStart[i] + s]));
    for (let u = useStart[i]; u < useStart[i + 1] && u < useStart[i] + 12; u++) around.appendChild(chip(useNode[u]));
    row(P, "相邻节点 neighbours", "panel-around", around);
  }

  function forward(i) {  // how node i was computed: 'name = a × b = 0.5 × 2 = 1'
    const np = A.nparents[i], symbol = M.symbols[A.op[i]], ps = [];
    for (let s = 0; s < np; s++) ps.push(A.parents[parentStart[i] + s]);
    const infix = np === 2 && ["+", "×", "−", "÷"].includes(symbol);
    const show = (xs) => infix ? `${xs[0]} ${symbol} ${xs[1]}` : `${symbol}(${xs.join(", ")})`;
    return `${names[i]} = ${show(ps.map((p) => names[p]))} = ${show(ps.map((p) => fmt(A.data[p])))} = ${fmt(A.data[i])}`;
  }

  function chain(i) {  // d root / d node i: one term per use, what each path into this node brings back
    const rootName = names[root], name = names[i], box = document.createElement("div");
    const line = (content, id) => {
      const p = document.createElement("div");
      p.textContent = content;
      if (id) p.id = id;
      box.appendChild(p);
    };
    if (i === root) {
      line(`${d(rootName, rootName)} = 1(反向传播的起点)`);
      document.body.dataset.chainSum = "1";
      return box;
    }
    const total = useStart[i + 1] - useStart[i];
    line(`${d(rootName, name)} = Σ ${d(rootName, "使用者")} × ${d("使用者", name)},共 ${total} 项:`);
    let sum = 0;
    const terms = [];
    for (let u = useStart[i]; u < useStart[i + 1]; u++) {
      const j = useNode[u], g = A.grad[j], l = A.local[parentStart[j] + useSlot[u]];
      sum += g * l;  // in the order of the uses, as backward() adds them
      terms.push([j, g, l]);
    }
    if (total > 6) {  // many paths: show those that bring the most
      terms.sort((p, q) => Math.abs(q[1] * q[2]) - Math.abs(p[1] * p[2]));
      line("  (贡献最大的 6 项)");
    }
    for (const [j, g, l] of terms.slice(0, 6)) line(`  经 ${names[j]}:${fmt(g)} × ${fmt(l)} = ${fmt(g * l)}`);
    if (total > 6) line(`  …另外 ${total - 6} 项`);
    line(`= ${fmt(sum)}`, "panel-sum");
    document.body.dataset.chainSum = String(sum);
    return box;
  }

  // ------------------------------------------------------------------ search, stepping, keys
  function search() {
    const q = $("search").value.trim(), msg = $("search-msg");
    if (!q) return;
    let found = names.indexOf(q);
    let count = found >= 0 ? 1 : 0;
    if (found < 0) {
      const low = q.toLowerCase();
      for (let i = 0; i < n; i++) {
        if (names[i].toLowerCase().includes(low)) { if (found < 0) found = i; count++; }
      }
    }
    msg.textContent = found < 0 ? `没有名字含 “${q}” 的节点` :
      count > 1 ? `找到 ${count} 个,显示第一个:${names[found]}` : `找到:${names[found]}`;
    msg.classList.add("show");
    setTimeout(() => msg.classList.remove("show"), 2500);
    if (found >= 0) select(found);
  }

  function go(p) { pos = Math.max(0, Math.min(steps.length - 1, p)); show(); }
  function play() {
    if (timer) { clearInterval(timer); timer = null; $("btn-play").textContent = "▶ 播放"; return; }
    if (pos >= steps.length - 1) pos = 0;
    $("btn-play").textContent = "⏸ 暂停";
    timer = setInterval(() => { if (pos >= steps.length - 1) play(); else go(pos + 1); }, 700);
  }
  $("btn-forward").addEventListener("click", () => go(0));
  $("btn-backward").addEventListener("click", () => go(steps.findIndex((s) => s > m)));
  $("btn-prev").addEventListener("click", () => go(pos - 1));
  $("btn-next").addEventListener("click", () => go(pos + 1));
  $("btn-end").addEventListener("click", () => go(steps.length - 1));
  $("btn-play").addEventListener("click", play);
  $("search-go").addEventListener("click", search);
  $("search").addEventListener("keydown", (e) => { if (e.key === "Enter") search(); });
  $("chooser").addEventListener("change", (e) => open(+e.target.value));
  $("zoom-in").addEventListener("click", () => zoomTo(zoom * 1.25));
  $("zoom-out").addEventListener("click", () => zoomTo(zoom / 1.25));
  $("zoom-fit").addEventListener("click", () => {
    const stage = $("scroller");
    zoomTo(Math.min(stage.clientWidth / size[0], stage.clientHeight / size[1]));
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "ArrowRight") go(pos + 1);
    if (e.key === "ArrowLeft") go(pos - 1);
    if (e.key === " ") { e.preventDefault(); play(); }
  });

  function legend() {
    const L = $("legend");
    const stops = [];
    for (let k = 0; k <= 10; k++) stops.push(colour(10 ** (scale.lo + (scale.hi - scale.lo) * k / 10)));
    L.innerHTML = `<div class="legend-title">方框颜色 = log₁₀ 梯度范数</div>
      <div class="legend-bar" style="background: linear-gradient(to right, ${stops.join(", ")})"></div>
      <div class="legend-ends"><span>${scale.lo}</span><span>${scale.hi}</span></div>
      <div class="legend-note">实线框:‖∂根/∂参数‖₂(有参数的模块);虚线框:‖∂根/∂输出‖₂(没有参数的)</div>`;
    L.dataset.lo = scale.lo;
    L.dataset.hi = scale.hi;
  }

  legend();
  // A model whose whole graph is one call (a GPT's loss) opens that call: one box alone says nothing.
  const topItems = A.levelStart[1] - A.levelStart[0];
  const only = M.structures[A.levelStructure[0]].kinds;
  if (topItems === 1 && only[0] === BOX) open(A.levelItems[A.levelStart[0]]); else open(-1);
  $("panel").textContent = "点一个方框把它打开;点一个节点,看它的数值和链式法则。";
  document.body.dataset.readyMs = performance.now();  // since the navigation started: the benchmark reads it
  document.body.classList.add("ready");
})().catch((error) => {
  document.body.dataset.error = String(error);
  console.error(error);
});
