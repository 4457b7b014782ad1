// The benchmark chart: CPU ms per frame against frame size (megapixels), one line per variant,
// one panel per pixel format. Plain SVG text: lines, points and labels.
const COLORS = { floor: '#444444', 'zero-copy': '#1f77b4', 'copy-fallback': '#ff7f0e', 'appsink-copy': '#d62728' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function renderChart(result) {
  const formats = [...new Set(result.rows.map((r) => r.format))];
  const variants = [...new Set(result.rows.map((r) => r.variant))];
  const W = 460;
  const H = 340;
  const M = { l: 56, r: 16, t: 40, b: 48 };
  const legendH = 22 * variants.length + 10;
  const width = W * formats.length;
  const height = H + legendH + 30;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  const m = result.machine;
  out.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${esc(`CPU per frame vs frame size: ${m.cpu}, ${m.cores} cores, GStreamer ${m.gstreamer}, Node ${m.node}`)}</text>`);
  formats.forEach((format, i) => {
    const rows = result.rows.filter((r) => r.format === format && r.cpuMsPerFrame !== null);
    const ox = i * W;
    const mp = (r) => (r.width * r.height) / 1e6;
    const xMax = niceMax(Math.max(...rows.map(mp)));
    const yMax = niceMax(Math.max(...rows.map((r) => r.cpuMsPerFrame)));
    const x = (v) => ox + M.l + (v / xMax) * (W - M.l - M.r);
    const y = (v) => M.t + (1 - v / yMax) * (H - M.t - M.b);
    out.push(`<text x="${ox + W / 2}" y="${M.t - 10}" text-anchor="middle" font-weight="bold">${esc(format)}</text>`);
    for (let k = 0; k <= 5; k++) {
      const v = (yMax * k) / 5;
      out.push(`<line x1="${x(0)}" x2="${x(xMax)}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
      out.push(`<text x="${x(0) - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}</text>`);
    }
    for (const r of rows.filter((r) => r.variant === rows[0].variant)) {
      out.push(`<line x1="${x(mp(r))}" x2="${x(mp(r))}" y1="${y(0)}" y2="${y(0) + 5}" stroke="#000"/>`);
      out.push(`<text x="${x(mp(r))}" y="${y(0) + 18}" text-anchor="middle">${esc(r.size)}</text>`);
    }
    out.push(`<line x1="${x(0)}" x2="${x(xMax)}" y1="${y(0)}" y2="${y(0)}" stroke="#000"/>`);
    out.push(`<line x1="${x(0)}" x2="${x(0)}" y1="${y(0)}" y2="${y(yMax)}" stroke="#000"/>`);
    out.push(`<text x="${ox + W / 2}" y="${H - 8}" text-anchor="middle">megapixels per frame</text>`);
    out.push(`<text transform="translate(${ox + 14},${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">CPU ms per frame</text>`);
    for (const v of variants) {
      const pts = rows.filter((r) => r.variant === v).sort((a, b) => mp(a) - mp(b));
      if (pts.length === 0) continue;
      const color = COLORS[v] ?? '#2ca02c';
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((r) => `${x(mp(r)).toFixed(1)},${y(r.cpuMsPerFrame).toFixed(1)}`).join(' ')}"/>`);
      for (const r of pts) {
        out.push(`<circle cx="${x(mp(r)).toFixed(1)}" cy="${y(r.cpuMsPerFrame).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${r.variant} ${r.size} ${r.format}: ${r.cpuMsPerFrame.toFixed(3)} ms/frame`)}</title></circle>`);
      }
    }
  });
  variants.forEach((v, k) => {
    const ly = H + 10 + k * 22;
    out.push(`<line x1="${M.l}" x2="${M.l + 24}" y1="${ly}" y2="${ly}" stroke="${COLORS[v] ?? '#2ca02c'}" stroke-width="3"/>`);
    out.push(`<text x="${M.l + 32}" y="${ly + 4}">${esc(result.labels?.[v] ?? v)}</text>`);
  });
  out.push(`<text x="${M.l}" y="${height - 8}" fill="#666">${esc(`medians of ${result.settings.rounds} interleaved rounds, ${result.date.slice(0, 10)}`)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
