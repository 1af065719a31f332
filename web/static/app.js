// Keyboard labeling for mergebench's labeling pages. Plain script, no build step: verdict
// and reason keys fill the form, Enter saves it, n/p move through the queue, ? shows help.
(function () {
  'use strict';
  var form = document.getElementById('label-form');
  var opened = Date.now();

  function typing(target) {
    return target && (target.tagName === 'TEXTAREA' || (target.tagName === 'INPUT' && target.type !== 'radio' && target.type !== 'checkbox'));
  }

  function follow(id) {
    var a = document.getElementById(id);
    if (a && a.getAttribute('href')) { window.location.href = a.getAttribute('href'); }
  }

  function help(show) {
    var h = document.getElementById('help');
    if (h) { h.hidden = (show === undefined) ? !h.hidden : !show; }
  }

  function say(text) {
    var m = document.getElementById('form-message');
    if (m) { m.textContent = text; }
  }

  function stamp() {
    var s = document.getElementById('seconds');
    if (s) { s.value = ((Date.now() - opened) / 1000).toFixed(1); }
  }

  function save() {
    if (!form) { return; }
    if (!form.querySelector('input[name="verdict"]:checked')) {
      say('Choose a verdict first: m merge, v revise, x reject.');
      return;
    }
    stamp();
    form.submit();
  }

  function verdict(v) {
    var r = form && form.querySelector('input[name="verdict"][value="' + v + '"]');
    if (r) { r.checked = true; say(''); }
  }

  function reason(i) {
    var boxes = form ? form.querySelectorAll('input[name="reasons"]') : [];
    if (boxes[i]) { boxes[i].checked = !boxes[i].checked; }
  }

  function toggleView() {
    var b = document.body;
    var split = b.classList.contains('view-split');
    b.classList.toggle('view-split', !split);
    b.classList.toggle('view-unified', split);
  }

  function toggleFiles() {
    var files = document.querySelectorAll('details.file');
    var anyOpen = Array.prototype.some.call(files, function (d) { return d.open; });
    Array.prototype.forEach.call(files, function (d) { d.open = !anyOpen; });
  }

  if (form) { form.addEventListener('submit', stamp); }
  var hb = document.getElementById('help-button');
  if (hb) { hb.addEventListener('click', function () { help(); }); }

  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (typing(e.target)) {
      if (e.key === 'Escape') { e.target.blur(); }
      return;
    }
    var keys = { m: 'merge', v: 'revise', x: 'reject' };
    if (keys[e.key]) { verdict(keys[e.key]); }
    else if (e.key >= '1' && e.key <= '9') { reason(Number(e.key) - 1); }
    else if (e.key === 'Enter') { save(); }
    else if (e.key === 'n' || e.key === 'j') { follow('next-link'); }
    else if (e.key === 'p' || e.key === 'k') { follow('prev-link'); }
    else if (e.key === ']') { follow('next-page'); }
    else if (e.key === '[') { follow('prev-page'); }
    else if (e.key === 's') { toggleView(); }
    else if (e.key === 'o') { toggleFiles(); }
    else if (e.key === 'c') { var c = document.getElementById('comment'); if (c) { c.focus(); } }
    else if (e.key === '?') { help(); }
    else if (e.key === 'Escape') { help(false); }
    else { return; }
    e.preventDefault();
  });
})();
