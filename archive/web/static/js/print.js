// "打印摘要": the page's print style leaves a one-page summary (no navigation, no forms).
"use strict";
(function () {
  var b = document.getElementById("print");
  if (!b) return;
  b.hidden = false;
  b.addEventListener("click", function () { window.print(); });
})();
