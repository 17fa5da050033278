// Video for a camera: live (the live-view issue's HLS through the pinned hls.js) with a refreshing
// snapshot when live view is not available, and recorded playback over a playback session's HLS
// VOD playlist (the recorded fMP4 files themselves, byte ranges, no transcoding).
import { ApiError, get, post, del } from "./api.js";

const SNAPSHOT_REFRESH_MS = 2000;

function hlsAvailable() {
  return typeof window.Hls !== "undefined" && window.Hls.isSupported();
}

function newHls(extra) {
  // No worker: the CSP allows no blob: workers, and demuxing fMP4 is cheap on the main thread.
  return new window.Hls({ enableWorker: false, ...extra });
}

/**
 * Live view into `video`, or a snapshot every 2 s into `img` when the kernel has no live view.
 * Answers {mode, stop()}; mode is "live" or "snapshot".
 */
export async function startLive(cameraId, video, img) {
  let live = null;
  try {
    live = await get(`/cameras/${encodeURIComponent(cameraId)}/liveview`);
  } catch (err) {
    if (!(err instanceof ApiError)) console.warn(err);
  }
  if (live && live.hls_url && hlsAvailable()) {
    const hls = newHls({ lowLatencyMode: true, liveSyncDurationCount: 2, manifestLoadingMaxRetry: 6 });
    let fellBack = null;
    hls.on(window.Hls.Events.ERROR, (_e, data) => {
      if (data.fatal && !fellBack) {
        hls.destroy();
        fellBack = startSnapshots(cameraId, video, img);
      }
    });
    hls.loadSource(live.hls_url);
    hls.attachMedia(video);
    video.muted = true;
    video.hidden = false;
    img.hidden = true;
    video.play().catch(() => {});
    return { mode: "live", stop() { hls.destroy(); if (fellBack) fellBack.stop(); } };
  }
  if (live && live.hls_url && video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = live.hls_url;
    video.muted = true;
    video.play().catch(() => {});
    return { mode: "live", stop() { video.removeAttribute("src"); video.load(); } };
  }
  return startSnapshots(cameraId, video, img);
}

function startSnapshots(cameraId, video, img) {
  video.hidden = true;
  img.hidden = false;
  let timer = null;
  let url = null;
  let stopped = false;
  const load = async () => {
    try {
      const response = await fetch(`/api/v1/cameras/${encodeURIComponent(cameraId)}/snapshot`, {
        credentials: "same-origin", cache: "no-store",
      });
      if (response.ok && !stopped) {
        const next = URL.createObjectURL(await response.blob());
        img.src = next;
        if (url) URL.revokeObjectURL(url);
        url = next;
        img.classList.remove("empty");
      } else if (!response.ok) {
        img.classList.add("empty");
      }
    } catch (err) {
      img.classList.add("empty");
    }
    if (!stopped) timer = setTimeout(load, SNAPSHOT_REFRESH_MS);
  };
  load();
  return {
    mode: "snapshot",
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (url) URL.revokeObjectURL(url);
    },
  };
}

/**
 * Recorded video from `at` (a Date) through a playback session. The session's `from` is where its
 * playlist really starts (a fragment boundary), so the seek offset is `at - from`. Sets
 * `video.dataset.playingAt` (RFC 3339) from the playlist's PROGRAM-DATE-TIME as it plays.
 */
export async function startRecorded(cameraId, video, at, { onTime, onEnded } = {}) {
  const now = new Date();
  const to = new Date(Math.min(now.getTime(), at.getTime() + 6 * 3600 * 1000));
  const session = await post(`/cameras/${encodeURIComponent(cameraId)}/playback/sessions`, {
    from: new Date(at.getTime() - 1000).toISOString(),
    to: to.toISOString(),
  });
  const start = new Date(session.from);
  const offset = Math.max(0, (at.getTime() - start.getTime()) / 1000);
  let hls = null;
  const report = () => {
    let when = null;
    if (hls && hls.playingDate) when = hls.playingDate;
    else when = new Date(start.getTime() + video.currentTime * 1000);
    video.dataset.playingAt = when.toISOString();
    if (onTime) onTime(when);
  };
  // A session ends where the recording ended when it was opened: hand over to the caller (which
  // opens the next session from there, or goes live) instead of stopping.
  const ended = () => { if (onEnded) onEnded(new Date(video.dataset.playingAt || session.to)); };
  video.addEventListener("timeupdate", report);
  video.addEventListener("ended", ended);
  video.muted = true;
  if (hlsAvailable()) {
    hls = newHls({ startPosition: offset, maxBufferLength: 20 });
    hls.loadSource(session.playlist_url);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  } else {
    video.src = session.playlist_url;
    video.addEventListener("loadedmetadata", () => { video.currentTime = offset; video.play().catch(() => {}); }, { once: true });
  }
  return {
    session,
    stop() {
      video.removeEventListener("timeupdate", report);
      video.removeEventListener("ended", ended);
      if (hls) hls.destroy();
      else { video.removeAttribute("src"); video.load(); }
      del(`/playback/sessions/${encodeURIComponent(session.id)}`).catch(() => {});
    },
  };
}
