// The benchmark chart, as plain SVG: for each pixel format, (top) CPU ms per frame against frame
// size for every variant, on a log scale so that the floor and frame-source stay apart next to
// appsink-copy; (bottom) what each frame-source variant (and the queue and reader floors) adds over
// the floor, in ms per frame, on a linear scale (below 0 where a variant costs less than the
// floor): a flat line is an overhead independent of resolution. Below them, bars for the
// decode and many-streams suites (CPU × their floor), the live latency suite (p50/p99/max) and the
// gpu suite (CPU × its floor).
const COLORS = {
  floor: '#444444',
  'queue-floor': '#999999',
  'reader-floor': '#bcbd22',
  'zero-copy': '#1f77b4',
  'frame-source': '#1f77b4',
  'frame-source-busy': '#6baed6',
  'copy-fallback': '#ff7f0e',
  'appsink-copy': '#d62728',
  'node-av': '#9467bd',
};
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const n1 = (v) => v.toFixed(1);

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function panel(out, { ox, oy, W, H, title, rows, variants, value, log, yLabel }) {
  const M = { l: 56, r: 16, t: 28, b: 40 };
  const mp = (r) => (r.width * r.height) / 1e6;
  const xMax = niceMax(Math.max(...rows.map(mp)));
  const vals = rows.map(value).filter((v) => v !== null && Number.isFinite(v));
  let ticks;
  let y;
  const top = oy + M.t;
  const bottom = oy + H - M.b;
  if (log) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(...vals)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
    ticks = [];
    for (let d = lo; d <= hi; d *= 10) for (const m of [1, 2, 5]) if (d * m <= hi) ticks.push(d * m);
    y = (v) => bottom - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
  } else {
    // Five steps from 0 up; below 0 as many more as the lowest value needs, so that a variant
    // cheaper than the floor is drawn under the 0 line, on the scale, not at the panel's edge.
    const hi = niceMax(Math.max(0.001, ...vals));
    const step = hi / 5;
    const lo = Math.floor(Math.min(0, ...vals) / step) * step;
    ticks = [];
    for (let k = Math.round(lo / step); k <= 5; k++) ticks.push(k * step);
    y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
  }
  const x = (v) => ox + M.l + (v / xMax) * (W - M.l - M.r);
  out.push(`<text x="${ox + W / 2}" y="${oy + 16}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  for (const v of ticks) {
    const stroke = v === 0 && ticks[0] < 0 ? '#999999' : '#e5e5e5';
    out.push(`<line x1="${n1(x(0))}" x2="${n1(x(xMax))}" y1="${n1(y(v))}" y2="${n1(y(v))}" stroke="${stroke}"/>`);
    out.push(`<text x="${n1(x(0) - 6)}" y="${n1(y(v) + 4)}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  const sizes = [...new Map(rows.map((r) => [r.size, r])).values()];
  for (const r of sizes) {
    out.push(`<line x1="${n1(x(mp(r)))}" x2="${n1(x(mp(r)))}" y1="${bottom}" y2="${bottom + 5}" stroke="#000"/>`);
    out.push(`<text x="${n1(x(mp(r)))}" y="${bottom + 17}" text-anchor="middle">${esc(r.size)}</text>`);
  }
  out.push(`<line x1="${n1(x(0))}" x2="${n1(x(xMax))}" y1="${bottom}" y2="${bottom}" stroke="#000"/>`);
  out.push(`<line x1="${n1(x(0))}" x2="${n1(x(0))}" y1="${bottom}" y2="${top}" stroke="#000"/>`);
  out.push(`<text x="${ox + W / 2}" y="${oy + H - 6}" text-anchor="middle">megapixels per frame</text>`);
  out.push(`<text transform="translate(${ox + 14},${n1((top + bottom) / 2)}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  for (const v of variants) {
    const pts = rows.filter((r) => r.variant === v && value(r) !== null).sort((a, b) => mp(a) - mp(b));
    if (pts.length === 0) continue;
    const color = COLORS[v] ?? '#2ca02c';
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((r) => `${n1(x(mp(r)))},${n1(y(value(r)))}`).join(' ')}"/>`,
    );
    for (const r of pts) {
      out.push(
        `<circle cx="${n1(x(mp(r)))}" cy="${n1(y(value(r)))}" r="3" fill="${color}"><title>${esc(`${r.variant} ${r.size} ${r.format}: ${value(r).toFixed(3)} ms/frame`)}</title></circle>`,
      );
    }
  }
}

// Horizontal bars, one per row: the other suites (decode, streams, latency), whose rows are not
// frame sizes. `value` gives one bar per row, `values` several (drawn as one group).
function bars(out, { ox, oy, W, title, rows, label, series, unit }) {
  const barH = 14;
  const M = { l: 250, r: 60, t: 28 };
  const all = rows.flatMap((r) => series.map((s) => s.value(r))).filter((v) => v !== null && Number.isFinite(v));
  const xMax = niceMax(Math.max(0.001, ...all));
  const x = (v) => ox + M.l + (v / xMax) * (W - M.l - M.r);
  out.push(`<text x="${ox + W / 2}" y="${oy + 16}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  let y = oy + M.t;
  for (const r of rows) {
    const group = series.filter((s) => s.value(r) !== null && Number.isFinite(s.value(r)));
    if (group.length === 0) continue;
    out.push(`<text x="${ox + M.l - 6}" y="${y + barH - 3}" text-anchor="end">${esc(label(r))}</text>`);
    for (const s of group) {
      const v = s.value(r);
      const color = s.color ?? COLORS[r.variant] ?? '#2ca02c';
      out.push(
        `<rect x="${n1(x(0))}" y="${y}" width="${n1(x(v) - x(0))}" height="${barH - 2}" fill="${color}"><title>${esc(`${label(r)} ${s.name ?? ''}: ${v.toFixed(3)} ${unit}`)}</title></rect>`,
      );
      out.push(`<text x="${n1(x(v) + 4)}" y="${y + barH - 3}">${esc(`${v.toFixed(2)}${s.name ? ` ${s.name}` : ''}`)}</text>`);
      y += barH;
    }
    y += 4;
  }
  out.push(`<line x1="${n1(x(0))}" x2="${n1(x(0))}" y1="${oy + M.t}" y2="${y}" stroke="#000"/>`);
  return y - oy + 8;
}

export function renderChart(result) {
  const synthetic = result.rows.filter((r) => (r.suite ?? 'synthetic') === 'synthetic');
  const formats = [...new Set(synthetic.map((r) => r.format))];
  const variants = [...new Set(synthetic.map((r) => r.variant))];
  const W = 460;
  const H1 = 320;
  const H2 = 240;
  const legendH = 22 * variants.length + 10;
  const width = Math.max(W * formats.length, 2 * W);
  const out = [];
  const m = result.machine;
  out.push(
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${esc(`CPU per frame: ${m.cpu}, ${m.cores} cores, GStreamer ${m.gstreamer}, Node ${m.node}`)}</text>`,
  );
  let y = 30;
  if (synthetic.length > 0) {
    formats.forEach((format, i) => {
      const rows = synthetic.filter((r) => r.format === format && r.cpuMsPerFrame !== null);
      panel(out, {
        ox: i * W,
        oy: y,
        W,
        H: H1,
        title: `${format}: CPU ms per frame (log scale)`,
        rows,
        variants,
        value: (r) => r.cpuMsPerFrame,
        log: true,
        yLabel: 'CPU ms per frame',
      });
      // With the queue and reader floors beside them: what GStreamer itself adds by handing frames
      // to a thread, and that thread reading them.
      const fsRows = rows.filter((r) => ['zero-copy', 'copy-fallback', 'queue-floor', 'reader-floor'].includes(r.variant));
      if (fsRows.length > 0) {
        panel(out, {
          ox: i * W,
          oy: y + H1,
          W,
          H: H2,
          title: `${format}: CPU over the floor`,
          rows: fsRows,
          variants,
          value: (r) => r.overheadMsPerFrame,
          log: false,
          yLabel: '+ms per frame',
        });
      }
    });
    variants.forEach((v, k) => {
      const ly = y + H1 + H2 + 14 + k * 22;
      out.push(`<line x1="56" x2="80" y1="${ly}" y2="${ly}" stroke="${COLORS[v] ?? '#2ca02c'}" stroke-width="3"/>`);
      out.push(`<text x="88" y="${ly + 4}">${esc(result.labels?.[v] ?? v)}</text>`);
    });
    y += H1 + H2 + legendH;
  }
  const ratio = [{ value: (r) => r.ratioToFloor }];
  const decode = result.rows.filter((r) => r.suite === 'decode');
  const streams = result.rows.filter((r) => r.suite === 'streams');
  const latency = result.rows.filter((r) => r.suite === 'latency');
  let left = 0;
  let right = 0;
  if (decode.length > 0)
    left += bars(out, {
      ox: 0,
      oy: y,
      W,
      title: 'Decoding a file: CPU × the gst-launch floor',
      rows: decode.filter((r) => r.variant !== 'floor'),
      label: (r) => `${r.codec} ${r.size} ${r.variant}`,
      series: ratio,
      unit: '× floor',
    });
  if (streams.length > 0)
    left += bars(out, {
      ox: 0,
      oy: y + left,
      W,
      title: `${streams[0].streams} streams at once: CPU × ${streams[0].streams} gst-launch`,
      rows: streams,
      label: (r) => r.variant,
      series: ratio,
      unit: '× floor',
    });
  if (latency.length > 0) {
    right += bars(out, {
      ox: W,
      oy: y,
      W,
      title: 'Live 30 fps: sink-to-JS latency, ms',
      rows: latency,
      label: (r) => r.variant,
      series: [
        { name: 'p50', value: (r) => r.latencyP50Ms, color: '#9ecae1' },
        { name: 'p99', value: (r) => r.latencyP99Ms, color: '#3182bd' },
        { name: 'max', value: (r) => r.latencyMaxMs, color: '#08519c' },
      ],
      unit: 'ms',
    });
  }
  const gpu = result.rows.filter((r) => r.suite === 'gpu');
  if (gpu.length > 0)
    right += bars(out, {
      ox: W,
      oy: y + right,
      W,
      title: 'NVIDIA decoders, 1080p: CPU × the gst-launch floor',
      rows: gpu,
      label: (r) => `${r.codec} ${r.output} ${r.variant}`,
      series: ratio,
      unit: '× floor',
    });
  y += Math.max(left, right) + 24;
  const height = y;
  // Runs that other processes slowed down are listed in the JSON; the footer says how many.
  const disturbed = result.disturbed?.length ?? 0;
  const note = disturbed > 0 ? `; ${disturbed} run${disturbed > 1 ? 's' : ''} disturbed by other processes` : '';
  out.push(
    `<text x="56" y="${height - 8}" fill="${disturbed > 0 ? '#c00000' : '#666'}">${esc(`medians of ${result.settings.rounds} interleaved rounds, ${result.date.slice(0, 10)}; consumer included (see the tables for its share)${note}`)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n${out.join('\n')}\n</svg>\n`;
}
