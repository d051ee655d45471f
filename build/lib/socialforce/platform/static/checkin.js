/* Check-in/out forms marked data-geolocate: ask the browser for its position once, put it in the hidden
   lat/lon inputs, then submit. Without permission, support or an answer within 8 s the form submits anyway. */
(function () {
  "use strict";
  document.querySelectorAll("form[data-geolocate]").forEach(function (form) {
    var sending = false;
    form.addEventListener("submit", function (event) {
      if (sending) { return; }
      if (!("geolocation" in navigator)) { return; }
      event.preventDefault();
      sending = true;
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      var done = function () { form.submit(); };
      navigator.geolocation.getCurrentPosition(function (position) {
        form.querySelector("input[name=lat]").value = position.coords.latitude.toFixed(6);
        form.querySelector("input[name=lon]").value = position.coords.longitude.toFixed(6);
        done();
      }, done, { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 });
    });
  });
})();
