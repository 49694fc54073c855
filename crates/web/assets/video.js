// The room's video: one WebRTC connection to each other participant (a mesh of at most six),
// signalled through the server's WebSocket (…/ws). The newcomer makes the offers. Without a
// camera or microphone the page still receives the others; without WebRTC it says so and the
// room's text thread remains.
(function () {
  'use strict';
  var root = document.getElementById('video');
  if (!root) return;
  var status = document.getElementById('video-status');
  var notice = document.getElementById('video-notice');
  var grid = document.getElementById('video-grid');
  var localVideo = document.getElementById('video-local');
  var text = function (k) { return root.getAttribute('data-t-' + k) || ''; };
  var peers = new Map(); // id → { pc, tile }
  var local = null;
  var ws = null;
  var iceServers = [];
  var leaving = false;
  var inbox = Promise.resolve();

  function say(msg, state) {
    status.textContent = msg;
    root.setAttribute('data-state', state);
  }
  function warn(msg) {
    notice.textContent = msg;
    notice.hidden = false;
  }
  function recount() {
    var n = 0;
    peers.forEach(function (p) { if (p.pc.connectionState === 'connected') n += 1; });
    root.setAttribute('data-connected', String(n));
    if (n > 0) say(text('connected').replace('{n}', String(n)), 'connected');
    else if (ws && ws.readyState === WebSocket.OPEN) say(text('waiting'), 'waiting');
  }
  function send(to, data) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: 'signal', to: to, data: data }));
    }
  }
  function tile(id, name) {
    var fig = document.createElement('figure');
    fig.className = 'tile';
    fig.id = 'peer-' + id;
    var v = document.createElement('video');
    v.autoplay = true;
    v.playsInline = true;
    var cap = document.createElement('figcaption');
    cap.textContent = name;
    fig.appendChild(v);
    fig.appendChild(cap);
    grid.appendChild(fig);
    return fig;
  }
  function connect(id, name, offer) {
    var pc = new RTCPeerConnection({ iceServers: iceServers });
    var fig = tile(id, name);
    peers.set(id, { pc: pc, tile: fig });
    if (local) {
      local.getTracks().forEach(function (t) { pc.addTrack(t, local); });
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    pc.ontrack = function (e) {
      var v = fig.querySelector('video');
      var stream = e.streams[0] || new MediaStream([e.track]);
      if (v.srcObject !== stream) v.srcObject = stream;
    };
    pc.onicecandidate = function (e) {
      if (e.candidate) send(id, { candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = function () {
      fig.setAttribute('data-state', pc.connectionState);
      recount();
    };
    if (offer) {
      pc.createOffer()
        .then(function (o) { return pc.setLocalDescription(o); })
        .then(function () { send(id, { sdp: pc.localDescription.toJSON() }); })
        .catch(function (err) { console.error('offer', err); });
    }
  }
  function drop(id) {
    var p = peers.get(id);
    if (!p) return;
    p.pc.close();
    p.tile.remove();
    peers.delete(id);
    recount();
  }
  // Signals are handled one after another: a candidate never overtakes its description.
  function signal(from, data) {
    var p = peers.get(from);
    if (!p) return Promise.resolve();
    var pc = p.pc;
    if (data.sdp) {
      return pc.setRemoteDescription(data.sdp).then(function () {
        if (data.sdp.type !== 'offer') return undefined;
        return pc.createAnswer()
          .then(function (a) { return pc.setLocalDescription(a); })
          .then(function () { send(from, { sdp: pc.localDescription.toJSON() }); });
      });
    }
    if (data.candidate) {
      return pc.addIceCandidate(data.candidate).catch(function (err) { console.warn('candidate', err); });
    }
    return Promise.resolve();
  }
  function onMessage(ev) {
    var m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m.type === 'welcome') {
      iceServers = m.ice_servers || [];
      say(text('waiting'), 'waiting');
      m.peers.forEach(function (p) { connect(p.id, p.name, true); });
    } else if (m.type === 'peer_joined') {
      connect(m.peer.id, m.peer.name, false);
    } else if (m.type === 'peer_left') {
      drop(m.id);
    } else if (m.type === 'signal') {
      inbox = inbox.then(function () { return signal(m.from, m.data); })
        .catch(function (err) { console.error('signal', err); });
    } else if (m.type === 'error') {
      leaving = true;
      say(m.message || m.code, 'refused');
    }
  }
  function open() {
    var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    ws = new WebSocket(scheme + location.host + root.getAttribute('data-ws'));
    ws.onmessage = onMessage;
    ws.onclose = function () {
      peers.forEach(function (_, id) { drop(id); });
      if (!leaving) say(text('lost'), 'lost');
    };
  }
  function toggle(button, kind) {
    button.addEventListener('click', function () {
      if (!local) return;
      var on = button.getAttribute('aria-pressed') !== 'true';
      local.getTracks().forEach(function (t) { if (t.kind === kind) t.enabled = on; });
      button.setAttribute('aria-pressed', String(on));
    });
  }
  toggle(document.getElementById('video-mic'), 'audio');
  toggle(document.getElementById('video-camera'), 'video');
  document.getElementById('video-leave').addEventListener('click', function () {
    leaving = true;
    if (ws) ws.close();
  });

  if (!window.RTCPeerConnection || !window.WebSocket) {
    say(text('unsupported'), 'unsupported');
    return;
  }
  var media = navigator.mediaDevices && navigator.mediaDevices.getUserMedia
    ? navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } })
    : Promise.reject(new Error('no media devices'));
  media.then(function (stream) {
    local = stream;
    localVideo.srcObject = stream;
  }).catch(function () {
    warn(text('no-media'));
    document.getElementById('video-mine').hidden = true;
  }).then(open);
})();
