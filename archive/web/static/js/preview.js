// Inline PDF preview: pdf.js (from the npm package pdfjs-dist, shipped in static/vendor) draws
// each page of every .pdf-view on the page into a canvas. No eval, same origin only (the CSP).
// Loaded when the page runs, not as a static import: an install without the built pdf.js says
// so next to the download link instead of "loading" forever.
let pdfjsLib = null;
try {
  pdfjsLib = await import("../vendor/pdfjs/pdf.min.mjs");
} catch (err) {
  pdfjsLib = null;
}

const MAX_PAGES = 50; // a long file: the first pages, then a link to the download

function unavailable(view, why) {
  const loading = view.querySelector(".loading");
  const note = loading || document.createElement("p");
  note.className = "loading unavailable";
  note.textContent = why + "，请";
  const link = document.createElement("a");
  link.href = view.dataset.src;
  link.textContent = "下载";
  note.append(link, "查看。");
  if (!loading) view.appendChild(note);
  view.dataset.rendered = "error";
}

async function render(view) {
  if (pdfjsLib === null) {
    unavailable(view, "本系统未安装 PDF 预览组件（pdf.js），无法在页面上预览");
    return;
  }
  pdfjsLib.GlobalWorkerOptions.workerSrc = view.dataset.worker;
  const loading = view.querySelector(".loading");
  try {
    const pdf = await pdfjsLib.getDocument({
      url: view.dataset.src, withCredentials: true, isEvalSupported: false,
      // Up to the server's verify-before-send size every read hashes the whole file: fetch it
      // once. A larger file is read in ranges, each only its own bytes.
      disableRange: view.dataset.whole === "1", disableAutoFetch: view.dataset.whole !== "1",
      cMapUrl: view.dataset.cmaps, cMapPacked: true, standardFontDataUrl: view.dataset.fonts,
    }).promise;
    const width = Math.max(320, Math.min(view.clientWidth || 800, 900));
    const count = Math.min(pdf.numPages, MAX_PAGES);
    for (let n = 1; n <= count; n++) {
      const page = await pdf.getPage(n);
      const base = page.getViewport({scale: 1});
      const scale = width / base.width;
      const viewport = page.getViewport({scale: scale * (window.devicePixelRatio || 1)});
      const canvas = document.createElement("canvas");
      canvas.width = viewport.width;
      canvas.height = viewport.height;
      canvas.style.width = Math.floor(base.width * scale) + "px";
      canvas.setAttribute("aria-label", "第 " + n + " 页");
      canvas.className = "pdf-page";
      view.appendChild(canvas);
      await page.render({canvasContext: canvas.getContext("2d"), viewport}).promise;
    }
    const info = document.createElement("p");
    info.className = "pages";
    info.textContent = "共 " + pdf.numPages + " 页" + (pdf.numPages > count ? "，预览前 " + count + " 页" : "");
    view.appendChild(info);
    view.dataset.rendered = String(count);
    if (loading) loading.remove();
  } catch (err) {
    unavailable(view, "无法预览此 PDF（" + (err && err.message ? err.message : err) + "）");
  }
}

document.querySelectorAll(".pdf-view").forEach(render);
