// The case page: the decision fields follow the chosen stage, the form list follows the upload
// stage, and uploads go file by file to the API with a progress bar, the server's answer and a
// retry for a file that failed. Without JavaScript the same forms post to the server.
"use strict";
(function () {
  // the Chinese names of text_status, from the server (archive/labels.py)
  var uploadForm = document.getElementById("upload-form");
  var TEXT = uploadForm ? JSON.parse(uploadForm.getAttribute("data-text-labels") || "{}") : {};
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  // what only the plain form needs (the script asks about a duplicate file itself)
  Array.prototype.forEach.call(document.querySelectorAll(".no-js-only"), function (e) { e.hidden = true; });

  var stageForm = document.getElementById("stage-form");
  if (stageForm) {
    var stageSel = stageForm.querySelector('select[name="stage"]');
    var decisionOnly = stageForm.querySelector(".decision-only");
    var sync = function () { decisionOnly.hidden = stageSel.value !== "decision"; };
    stageSel.addEventListener("change", sync);
    sync();
  }

  var form = document.getElementById("upload-form");
  if (!form) return;
  var stage = document.getElementById("upload-stage");
  var formCode = document.getElementById("upload-form-code");
  var input = form.querySelector('input[type="file"]');
  var list = document.getElementById("upload-list");
  var drop = document.getElementById("drop");

  function filterForms() {
    var first = null;
    Array.prototype.forEach.call(formCode.options, function (o) {
      var ok = (" " + o.dataset.stages + " ").indexOf(" " + stage.value + " ") >= 0;
      o.hidden = !ok; o.disabled = !ok;
      if (ok && first === null) first = o;
    });
    if (formCode.selectedOptions.length === 0 || formCode.selectedOptions[0].disabled) {
      if (first) first.selected = true;
    }
  }
  stage.addEventListener("change", filterForms);
  filterForms();

  ["dragenter", "dragover"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    drop.addEventListener(t, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) input.files = e.dataTransfer.files;
  });

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    if (n < 1073741824) return (n / 1048576).toFixed(1) + " MB";
    return (n / 1073741824).toFixed(2) + " GB";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function message(body, status) {
    if (body && body.errors) {
      var parts = [];
      Object.keys(body.errors).forEach(function (k) { parts = parts.concat(body.errors[k]); });
      if (parts.length) return parts.join("；");
    }
    if (body && body.message) return body.message.split(" / ")[0];
    if (status === 413) return "文件超过大小上限";
    if (status === 0) return "网络中断，未能上传";
    return "上传失败（" + status + "）";
  }

  function watchText(id, line) {
    var tries = 0;
    var poll = function () {
      fetch("/api/documents/" + encodeURIComponent(id), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (d) {
          line.textContent = "文字：" + (TEXT[d.text_status] || d.text_status) +
            (d.text_note ? "（" + d.text_note + "）" : "");
          // extraction takes seconds; OCR of a scan takes a few seconds a page, after the others
          if (d.text_status === "pending" && ++tries < 30) setTimeout(poll, 1000);
          else if (d.text_status === "ocr_pending" && ++tries < 150) setTimeout(poll, 3000);
        })
        .catch(function () { if (++tries < 30) setTimeout(poll, 2000); });
    };
    poll();
  }

  function send(file, item, stageValue, formValue, allowDuplicate) {
    var bar = item.querySelector("progress");
    var state = item.querySelector(".state");
    var answer = item.querySelector(".answer");
    answer.textContent = "";
    item.className = "sending";
    bar.value = 0;
    state.textContent = "上传中 0%";
    var data = new FormData();
    data.append("stage", stageValue);
    data.append("form", formValue);
    if (allowDuplicate) data.append("allow_duplicate", "true");
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.api);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      var pct = Math.floor(e.loaded * 100 / e.total);
      bar.value = pct;
      state.textContent = "上传中 " + pct + "%（" + size(e.loaded) + " / " + size(e.total) + "）";
    };
    xhr.upload.onload = function () { state.textContent = "已发送，正在校验和保存…"; };
    var done = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 201 && body) {
        item.className = "stored";
        bar.value = 100;
        state.textContent = "已保存";
        var link = el("a", null, body.filename);
        link.href = "/documents/" + encodeURIComponent(body.id);
        answer.appendChild(link);
        answer.appendChild(el("span", "sha", " SHA-256 " + body.sha256));
        var text = el("span", "text");
        answer.appendChild(text);
        (body.warnings || []).forEach(function (w) { answer.appendChild(el("span", "late", "预警：" + w)); });
        watchText(body.id, text);
      } else if (xhr.status === 409 && body && body.duplicate_of && body.duplicate_of.id) {
        // the case holds this very file already: ask before storing it a second time
        var d = body.duplicate_of;
        item.className = "duplicate";
        bar.value = 0;
        state.textContent = "此文件已于 " + String(d.uploaded_at).slice(0, 16).replace("T", " ") + " 上传为《" +
          (d.form_name || d.form) + "》，仍要上传吗？";
        var existing = el("a", null, "查看已上传的文件");
        existing.href = "/documents/" + encodeURIComponent(d.id);
        var again = el("button", "again", "仍要上传");
        again.type = "button";
        again.addEventListener("click", function () { send(file, item, stageValue, formValue, true); });
        var skip = el("button", "skip", "不上传");
        skip.type = "button";
        skip.addEventListener("click", function () {
          item.className = "skipped";
          state.textContent = "未上传（重复文件）";
          answer.textContent = "";
        });
        answer.appendChild(existing);
        answer.appendChild(again);
        answer.appendChild(skip);
      } else {
        item.className = "failed";
        state.textContent = "失败：" + message(body, xhr.status);
        var retry = el("button", "retry", "重试");
        retry.type = "button";
        retry.addEventListener("click", function () { send(file, item, stageValue, formValue, allowDuplicate); });
        answer.appendChild(retry);
      }
    };
    var finish = function () { done(); refreshHint(); };
    xhr.onload = finish;
    xhr.onerror = finish;
    xhr.send(data);
  }

  function refreshHint() {
    if (list.querySelector("li.sending") || !list.querySelector("li.stored")) return;
    var hint = document.getElementById("upload-refresh");
    if (hint) return;
    hint = el("p", "help");
    hint.id = "upload-refresh";
    var a = el("a", null, "刷新页面");
    a.href = window.location.pathname + "#stage-" + stage.value;
    a.addEventListener("click", function () { window.location.reload(); });
    hint.appendChild(a);
    hint.appendChild(document.createTextNode("，在办案环节中查看刚上传的文书和是否按时。"));
    list.parentNode.insertBefore(hint, list.nextSibling);
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!input.files.length) {
      list.insertBefore(el("li", "failed", "请选择要上传的文件。"), list.firstChild);
      return;
    }
    var max = parseInt(form.dataset.max, 10);
    Array.prototype.forEach.call(input.files, function (file) {
      var item = el("li");
      item.appendChild(el("span", "name", file.name + "（" + size(file.size) + "）"));
      var bar = el("progress");
      bar.max = 100; bar.value = 0;
      item.appendChild(bar);
      item.appendChild(el("span", "state"));
      item.appendChild(el("div", "answer"));
      list.appendChild(item);
      if (max && file.size > max) {
        item.className = "failed";
        item.querySelector(".state").textContent = "失败：文件超过大小上限（" + size(max) + "）";
        return;
      }
      send(file, item, stage.value, formCode.value);
    });
    input.value = "";
  });
})();
