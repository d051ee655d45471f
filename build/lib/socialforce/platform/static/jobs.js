// Background job progress: polls the element's data-status-url once a second and fills the bar (rows done of
// total, phase); when the job ends it goes to data-done-url (or the job's result_url), or reloads the page.
(function () {
  var box = document.querySelector('[data-job-progress]');
  if (!box) { return; }
  var labels = JSON.parse(box.dataset.labels || '{}');
  var bar = box.querySelector('.progress-bar');
  var text = box.querySelector('.job-progress-text');
  function show(s) {
    bar.style.width = Math.max(s.percent || 0, 3) + '%';
    bar.setAttribute('aria-valuenow', s.percent || 0);
    var phase = (labels.phases || {})[s.phase] || (labels.states || {})[s.state] || s.phase || '';
    text.textContent = phase + (s.total ? ' ' + s.done + ' / ' + s.total : (s.done ? ' ' + s.done : ''));
    if (s.state === 'done' || s.state === 'failed') {
      var next = (s.state === 'done' && (box.dataset.doneUrl || s.result_url)) || null;
      if (next) { window.location = next; } else { window.location.reload(); }
      return false;
    }
    return true;
  }
  function poll() {
    fetch(box.dataset.statusUrl, {headers: {'Accept': 'application/json'}, credentials: 'same-origin'})
      .then(function (r) { return r.json(); })
      .then(function (s) { if (show(s)) { setTimeout(poll, 1000); } })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
