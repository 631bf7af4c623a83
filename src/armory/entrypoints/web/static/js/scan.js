// The typed-code form on the scan page works without this script. This adds the camera: it
// shows the rear camera, looks for a QR code in its frames with jsQR, and opens what it reads
// the way the form does (GET <form action>?code=<text>), so both ways end at the same answer.
(function () {
  "use strict";

  var SCAN_WIDTH = 640; // frames are scaled down to this: big enough for a label at arm's length
  var SCAN_EVERY_MS = 100; // about ten reads a second is quick to the eye and kind to the battery

  function start() {
    var form = document.getElementById("code-form");
    var status = document.getElementById("camera-status");
    var scanner = document.getElementById("scanner");
    var video = document.getElementById("camera");
    var startButton = document.getElementById("camera-start");
    var stopButton = document.getElementById("camera-stop");
    if (!form || !status || !scanner || !video || !startButton || !stopButton) { return; }

    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    var stream = null;
    var lastRead = 0;
    var opening = false;

    function say(text) { status.textContent = text; }

    function showStopped() {
      scanner.hidden = true;
      stopButton.hidden = true;
      startButton.hidden = false;
    }

    function stop() {
      if (stream) {
        stream.getTracks().forEach(function (track) { track.stop(); });
      }
      stream = null;
      video.srcObject = null;
    }

    function explain(error) {
      var name = error && error.name ? error.name : "";
      if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
        return "The camera is not allowed: allow it for this site in the browser's settings, or type the code below.";
      }
      if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
        return "No camera was found on this device: type the code below.";
      }
      if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
        return "The camera is busy or would not start (another app may be using it): type the code below.";
      }
      return "The camera could not start" + (name ? " (" + name + ")" : "") + ": type the code below.";
    }

    function open(text) {
      opening = true;
      stop();
      scanner.hidden = true;
      stopButton.hidden = true;
      say("Read “" + text + "”: opening it…");
      window.location.assign(form.action + "?code=" + encodeURIComponent(text));
    }

    function read(now) {
      if (!stream || opening) { return; }
      if (now - lastRead >= SCAN_EVERY_MS && video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0) {
        lastRead = now;
        var scale = Math.min(1, SCAN_WIDTH / video.videoWidth);
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        var code = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
        if (code && code.data) {
          open(code.data);
          return;
        }
      }
      window.requestAnimationFrame(read);
    }

    function begin() {
      if (typeof jsQR !== "function") {
        say("The code reader did not load: type the code below.");
        return;
      }
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        say("This browser cannot use the camera on this page (it needs a secure connection): type the code below.");
        return;
      }
      opening = false;
      startButton.hidden = true;
      say("Starting the camera…");
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (opened) {
          stream = opened;
          video.srcObject = opened;
          scanner.hidden = false;
          stopButton.hidden = false;
          return video.play();
        })
        .then(function () {
          say("Point the camera at the label's QR code.");
          window.requestAnimationFrame(read);
        })
        .catch(function (error) {
          stop();
          showStopped();
          say(explain(error));
        });
    }

    startButton.addEventListener("click", begin);
    stopButton.addEventListener("click", function () {
      stop();
      showStopped();
      say("The camera is off.");
    });
    // Let go of the camera when the page is left, and take it again when it is shown anew.
    window.addEventListener("pagehide", stop);
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && !stream) { showStopped(); say("The camera is off."); }
    });

    if (scanner.dataset.autostart === "yes") {
      begin();
    } else {
      // The page is showing what the last code was: scanning again straight away would read
      // the same label again. The person starts the camera when they are ready.
      showStopped();
      say("Press “Scan with the camera” to read another label.");
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
