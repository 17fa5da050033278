"""Live view: one upstream pull per camera, fanned out to WebSocket, HLS and (opt-in) WebRTC."""
