"""The simulated RTSP camera: a looping H.264 test clip served over RTSP/TCP for tests and demos.

`clip` renders and demuxes the clip, `packetizer` turns it into RTP (RFC 6184), `rtsp` and `auth`
speak the protocol, and `server` owns the listener, the sessions and `serve_simcam`.
"""
