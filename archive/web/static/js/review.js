// The scoring form: the running total and grade as the reviewer types (the server scores again
// on submission; this only shows what it will say). A failed veto item makes the file 0, 不合格.
"use strict";
(function () {
  var form = document.getElementById("score-form");
  if (!form) return;
  var GRADES = [[90, "优秀"], [60, "合格"], [0, "不合格"]];
  function update() {
    var vetoed = form.querySelectorAll('.veto input[type="checkbox"]:checked').length > 0;
    var total = 0, bad = false, parts = {};
    form.querySelectorAll("fieldset.section").forEach(function (fs) {
      var taken = 0;
      fs.querySelectorAll("input.points").forEach(function (inp) {
        var v = inp.value === "" ? 0 : Number(inp.value);
        var max = Number(inp.dataset.max);
        var wrong = isNaN(v) || v < 0 || v > max;
        inp.classList.toggle("over", wrong);
        if (wrong) { bad = true; return; }
        taken += v;
      });
      var left = Math.max(0, Number(fs.dataset.points) - taken);
      parts[fs.dataset.section] = left;
      total += left;
    });
    if (vetoed) total = 0;
    document.getElementById("total").textContent = bad ? "—" : String(Math.round(total * 100) / 100);
    document.getElementById("sub-form").textContent = parts.form === undefined ? "—" : String(parts.form);
    document.getElementById("sub-content").textContent = parts.content === undefined ? "—" : String(parts.content);
    var grade = "—";
    if (!bad) {
      for (var i = 0; i < GRADES.length; i++) { if (total >= GRADES[i][0]) { grade = GRADES[i][1]; break; } }
      if (vetoed) grade = "不合格（否决）";
    } else {
      grade = "扣分超出该项上限";
    }
    document.getElementById("grade").textContent = grade;
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
