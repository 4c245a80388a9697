(function () {
  var select = document.getElementById("outcome-filter");
  var shown = document.getElementById("shown");
  var rows = document.querySelectorAll("tr[data-outcome]");
  function apply(open) {
    var want = select.value, count = 0;
    rows.forEach(function (row) {
      var keep = want === "" || row.getAttribute("data-outcome") === want ||
        ((want === "attention" || want === "waiting") && row.classList.contains(want));
      row.hidden = !keep;
      if (keep) {
        count += 1;
        var fold = row.closest("details");
        if (fold && open) { fold.open = true; }
      }
    });
    document.querySelectorAll("tbody").forEach(function (group) {
      var head = group.querySelector("tr.group");
      if (head) { head.hidden = !group.querySelector("tr[data-outcome]:not([hidden])"); }
    });
    document.querySelectorAll("[data-part]").forEach(function (part) {
      part.hidden = !part.querySelector("tr[data-outcome]:not([hidden])");
    });
    shown.textContent = count + " of " + rows.length + " rows shown";
  }
  var preset = /(?:^#|&)outcome=([a-z_]+)/.exec(window.location.hash);
  var chosen = false;
  if (preset && select.querySelector('option[value="' + preset[1] + '"]')) {
    select.value = preset[1];
    chosen = true;
  }
  select.addEventListener("change", function () { apply(true); });
  apply(chosen && select.value !== "attention");
})();
