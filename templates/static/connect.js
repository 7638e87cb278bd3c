// Reports a connect link's result to the page that opened this popup, and
// only to the origin the connect session names; without an opener it
// continues to the application's redirect URL.
(function () {
  var el = document.getElementById("result");
  if (!el) {
    return;
  }
  var message = {
    type: "zoombroker.connect",
    status: el.dataset.status,
    account_id: el.dataset.account || null,
    error: el.dataset.error || null
  };
  if (window.opener && el.dataset.origin) {
    window.opener.postMessage(message, el.dataset.origin);
    window.close();
    return;
  }
  window.location.replace(el.dataset.redirect);
})();
