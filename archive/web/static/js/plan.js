// The plan page: copy the frozen digests for publication before the lottery.
"use strict";
(function () {
  var button = document.getElementById("copy-digests");
  var text = document.getElementById("digests");
  if (!button || !text) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var done = function () { document.getElementById("copied").textContent = "已复制。"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.value).then(done, function () { text.select(); document.execCommand("copy"); done(); });
    } else {
      text.select();
      document.execCommand("copy");
      done();
    }
  });
})();
