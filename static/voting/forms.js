// Progressive enhancement for the officials' forms: confirmations, one submit per click, busy state.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter || form.querySelector("[data-once]");
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.submitted === "1") {  // a double click must not submit twice
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "1";
    if (button && button.hasAttribute("data-once")) {
      window.setTimeout(function () { button.disabled = true; }, 0);
    }
    if (form.hasAttribute("data-busy-form")) {
      var busy = form.querySelector(".busy");
      if (busy) { busy.hidden = false; }
      // Downloads do not leave the page: reload once the server has answered (it sets this cookie).
      var poll = window.setInterval(function () {
        if (document.cookie.indexOf("voting_download=") !== -1) {
          document.cookie = "voting_download=; Max-Age=0; path=/";
          window.clearInterval(poll);
          window.location.reload();
        }
      }, 500);
    }
  });
})();
