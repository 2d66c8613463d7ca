/*
 * The console's only script (served by the gateway, no inline code): draws
 * the finance charts with uPlot from the JSON data block the page carries.
 * The table beside each chart holds the same figures for those who cannot
 * see a chart.
 */
(() => {
  const PALETTE = ["#0b5cad", "#a4161a", "#1a6b2f", "#7a4d00", "#5b2a86", "#00656e", "#8a2f5c"];

  const readData = () => {
    const block = document.getElementById("chart-data");
    if (block === null) return null;
    try {
      return JSON.parse(block.textContent || "null");
    } catch {
      return null;
    }
  };

  const draw = (chart, host) => {
    const width = Math.max(320, Math.min(host.clientWidth || 900, 1100));
    const opts = {
      width,
      height: 300,
      title: chart.title,
      scales: { x: { time: true } },
      axes: [{}, { label: chart.unit, size: 70 }],
      series: [
        { label: "Day" },
        ...chart.series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          points: { show: true, size: 6 },
        })),
      ],
    };
    const data = [chart.x, ...chart.series.map((s) => s.values)];
    host.replaceChildren();
    // uPlot is loaded before this script by the page (window.uPlot).
    new window.uPlot(opts, data, host);
  };

  const start = () => {
    const data = readData();
    if (data === null || typeof window.uPlot !== "function") return;
    for (const chart of data.charts) {
      const host = document.getElementById(chart.id);
      if (host !== null) draw(chart, host);
    }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
