// 会话: an idle session ends on the server after ARCHIVE_SESSION_IDLE_MINUTES. This script
// warns before that (继续使用 keeps it), goes to the login page when it has ended, and keeps
// what was typed in the page's forms: the login returns to the page, which fills them again.
"use strict";
(function () {
  var body = document.body;
  var KEEP = "draft:" + location.pathname + location.search;
  var FLAG = "session:via-login";
  var store = window.sessionStorage;

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && !/^(password|file|hidden|submit|button)$/.test(el.type);
    });
  }
  function save() {
    var data = {};
    Array.prototype.forEach.call(document.forms, function (form, i) {
      if (form.method.toLowerCase() !== "post" || form.classList.contains("logout")) return;
      fields(form).forEach(function (el) {
        var key = i + ":" + el.name;
        if (el.type === "checkbox" || el.type === "radio") {
          if (el.checked) (data[key] = data[key] || []).push(el.value);
        } else if (el.value) {
          data[key] = el.value;
        }
      });
    });
    try { store.setItem(KEEP, JSON.stringify(data)); } catch (e) { /* storage full: nothing kept */ }
  }
  function restore() {
    var raw = store.getItem(KEEP), n = 0;
    if (!raw) return 0;
    var data = JSON.parse(raw);
    Array.prototype.forEach.call(document.forms, function (form, i) {
      fields(form).forEach(function (el) {
        var v = data[i + ":" + el.name];
        if (v === undefined) return;
        if (el.type === "checkbox" || el.type === "radio") {
          el.checked = v.indexOf(el.value) >= 0;
        } else {
          el.value = v;
        }
        n += 1;
      });
    });
    return n;
  }

  if (body.dataset.page === "login") {
    store.setItem(FLAG, "1");  // whatever page comes after the login gets its forms back
    return;
  }
  if (store.getItem(FLAG)) {
    store.removeItem(FLAG);
    if (restore() > 0) {
      var note = document.createElement("p");
      note.className = "flash notice restored";
      note.setAttribute("role", "status");
      note.textContent = "已恢复您在会话结束前填写但未提交的内容，请核对后再提交。";
      var main = document.querySelector("main");
      if (main) main.insertBefore(note, main.firstChild);
    }
  } else {
    store.removeItem(KEEP);  // a fresh visit: nothing of an earlier one is put back
  }
  document.addEventListener("input", save);
  document.addEventListener("change", save);

  var idle = Number(body.dataset.idleSeconds || 0);
  if (!idle) return;
  var warnFor = Number(body.dataset.warnSeconds || 60);
  var statusUrl = body.dataset.statusUrl, keepUrl = body.dataset.keepaliveUrl, loginUrl = body.dataset.loginUrl;
  var deadline = Date.now() + idle * 1000, timers = [], banner = null, tick = null;

  function clear() { timers.forEach(clearTimeout); timers = []; if (tick) { clearInterval(tick); tick = null; } }
  function schedule() {
    clear();
    var now = Date.now();
    timers.push(setTimeout(warn, Math.max(0, deadline - warnFor * 1000 - now)));
    timers.push(setTimeout(expire, Math.max(0, deadline - now)));
  }
  function ask(then) {
    fetch(statusUrl, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      return r.ok ? r.json() : {remaining: 0};
    }).then(function (j) { then(Number(j.remaining || 0)); }, function () { then(-1); });
  }
  function hideBanner() { if (banner) { banner.remove(); banner = null; } }
  function warn() {
    ask(function (left) {
      if (left > warnFor + 1) { deadline = Date.now() + left * 1000; hideBanner(); schedule(); return; }  // used in another tab
      if (left === 0) { expire(); return; }
      if (!banner) {
        banner = document.createElement("div");
        banner.className = "session-warning";
        banner.setAttribute("role", "alertdialog");
        banner.innerHTML = '<p>您已较长时间未操作，登录将在 <strong></strong> 秒后结束。未提交的内容会被保留。</p>' +
          '<button type="button">继续使用</button>';
        banner.querySelector("button").addEventListener("click", keepalive);
        body.appendChild(banner);
      }
      var count = banner.querySelector("strong");
      var update = function () { count.textContent = String(Math.max(0, Math.round((deadline - Date.now()) / 1000))); };
      update();
      tick = setInterval(update, 1000);
    });
  }
  function keepalive() {
    var token = document.querySelector('meta[name="csrf-token"]').content;
    fetch(keepUrl, {method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": token}})
      .then(function (r) { return r.ok ? r.json() : {remaining: 0}; })
      .then(function (j) {
        if (!j.remaining) { expire(); return; }
        hideBanner(); deadline = Date.now() + Number(j.remaining) * 1000; schedule();
      });
  }
  function expire() {
    ask(function (left) {
      if (left > 1) { deadline = Date.now() + left * 1000; hideBanner(); schedule(); return; }
      save();
      store.setItem(FLAG, "1");
      location.assign(loginUrl + "?expired=1&next=" + encodeURIComponent(location.pathname + location.search));
    });
  }
  schedule();
})();
