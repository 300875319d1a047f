// Console behaviour, progressive: every page works without it. No inline script (the CSP forbids it).
(function () {
  "use strict";

  function announce(text) {
    var region = document.getElementById("announce");
    if (region) { region.textContent = ""; window.setTimeout(function () { region.textContent = text; }, 50); }
  }

  // Copy "answer + citation": the Clipboard API where the page is a secure context, else a hidden textarea.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    copyText(button.dataset.copy).then(function () {
      button.textContent = "已复制";
      button.setAttribute("data-copied", "");
      announce("已复制答复和出处");
      window.setTimeout(function () { button.textContent = label; button.removeAttribute("data-copied"); }, 2000);
    }, function () {
      announce("复制失败，请手动选中文字复制");
    });
  });

  // The handoff page: poll for the worker's new messages while the page is open.
  var list = document.getElementById("live-messages");
  if (!list) { return; }
  var url = list.dataset.pollUrl;

  function time(iso) {
    var date = new Date(iso);
    return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
  }

  function append(message) {
    if (list.querySelector('[data-id="' + message.id + '"]')) { return; }
    var item = document.createElement("li");
    item.className = "bubble from-" + message.direction;
    item.dataset.id = message.id;
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = message.direction === "worker" ? "工人" : message.operator;
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    var when = document.createElement("span");
    when.className = "when";
    when.textContent = time(message.created_at) +
      (message.direction === "operator" ? " · " + message.delivery_label : "");
    item.append(who, text, when);
    list.appendChild(item);
    var empty = document.getElementById("no-messages");
    if (empty) { empty.remove(); }
    if (message.direction === "worker") { announce("工人发来新消息"); }
  }

  function poll() {
    fetch(url + "?after=" + encodeURIComponent(list.dataset.after || "0"), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (data) {
      if (list.dataset.held === "1" && !data.takeover) {  // released elsewhere, or 30 minutes without a reply
        list.dataset.held = "0";
        var state = document.getElementById("takeover-state");
        if (state) { state.textContent = "对话已交还助手（已交还或 30 分钟没有回复）。如需继续，请刷新页面后重新接管。"; }
        var reply = document.getElementById("reply");
        if (reply) { reply.querySelector("button[type=submit]").disabled = true; }
        announce("对话已交还助手");
      }
      data.messages.forEach(function (message) {
        append(message);
        list.dataset.after = String(Math.max(Number(list.dataset.after || 0), message.id));
      });
    }).catch(function () { /* the next poll tries again */ });
  }

  window.setInterval(poll, 3000);
})();
