// canvas.mjs — shared by the browser tests that look at the drawn map
// (standalone.test.mjs, archive.test.mjs).

// mapIdle waits (at most 30 s) until the page's map has drawn every visible tile.
export const mapIdle = (page) => page.evaluate(() => new Promise((resolve) => {
  const map = window.lastmile.map;
  const timer = setTimeout(resolve, 30_000);
  map.once('idle', () => { clearTimeout(timer); resolve(); });
  map.triggerRepaint();
}));

// paintedPixels counts the map canvas's pixels, sampled every 4th row and
// column, that differ from the page's background colour (#f4f1ea).
export const paintedPixels = (page) => page.evaluate(() => {
  const src = window.lastmile.map.getCanvas();
  const c = document.createElement('canvas');
  c.width = src.width; c.height = src.height;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(src, 0, 0);
  const { data, width, height } = g.getImageData(0, 0, c.width, c.height);
  let n = 0, total = 0;
  for (let y = 0; y < height; y += 4) for (let x = 0; x < width; x += 4) {
    const i = (y * width + x) * 4; total++;
    if (Math.abs(data[i] - 0xf4) > 6 || Math.abs(data[i + 1] - 0xf1) > 6 || Math.abs(data[i + 2] - 0xea) > 6) n++;
  }
  return { n, total };
});
