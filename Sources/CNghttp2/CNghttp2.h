// CNghttp2: the system libnghttp2 (Debian 12 libnghttp2-dev 1.52.0), seen only by DevmeshHTTP2.
//
// Why this module exists: Swift reaches a C library through a module map, and SwiftPM's
// system-library target is the way to link one that the OS ships (`pkg-config libnghttp2`).
// Nothing is compiled here; the constants below only give nghttp2's enum members one C type
// (int / uint8_t / uint32_t), so the Swift side compares return codes without `.rawValue`
// conversions at every call.
//
// What DevmeshHTTP2 uses from <nghttp2/nghttp2.h>, and why:
// - nghttp2_session_server_new3 / _client_new3, nghttp2_session_del: one session per connection,
//   created with options (below), a callbacks table and an nghttp2_mem allocator (free lists
//   shared by a worker's sessions, so steady-state exchanges call no malloc).
// - nghttp2_session_callbacks_new / _del / _set_*: the callbacks listed in
//   DevmeshHTTP2/NghttpCallbacks.swift; nghttp2 copies the table into each session.
// - nghttp2_option_new / _del and:
//     _set_no_auto_window_update  receive windows open only when the proxy consumed the bytes;
//     _set_max_outbound_ack       bound on queued SETTINGS/PING ACKs (flood with unread output);
//     _set_max_settings           entries per SETTINGS frame;
//     _set_max_continuations      backstop on CONTINUATION frames per block (CVE-2024-28182);
//     _set_peer_max_concurrent_streams  outbound stream cap until the peer's SETTINGS arrive;
//     _set_max_send_header_block_length  largest header block we encode;
//     _set_no_closed_streams      no list of closed streams for the deprecated priority tree;
//     _set_no_http_messaging      RFC 9113 §8's message rules (pseudo-headers, field bytes,
//                                 connection-specific fields, content-length, 1xx, trailers) are
//                                 checked by DevmeshHTTP2's MessageState in the header callback
//                                 that walks every field anyway, not a second time by nghttp2
//                                 (3,500 instructions per gRPC call); only tests turn nghttp2's
//                                 checks back on, to compare the two.
//   The RST_STREAM rate limit (CVE-2023-44487, 1000 burst, 33/s) stays at nghttp2's default,
//   under the session's own rapid-reset ratio.
// - nghttp2_session_mem_recv / nghttp2_session_mem_send: bytes in and out without nghttp2
//   doing I/O (the *2 variants do not exist in 1.52).
// - nghttp2_session_set_user_data: the Swift session callbacks find (set once it exists).
// - nghttp2_submit_settings, _response, _request, _trailer, _rst_stream, _goaway,
//   _shutdown_notice, _ping (header lists with NGHTTP2_NV_FLAG_NO_COPY_NAME/_VALUE, below); nghttp2_session_set_local_window_size,
//   nghttp2_session_terminate_session (GOAWAY with an error, then close): the actions.
// - nghttp2_session_resume_data: restart a DATA provider that returned NGHTTP2_ERR_DEFERRED.
// - nghttp2_session_consume: open receive windows as the other side takes the bytes;
//   nghttp2_session_consume_connection for a stream reset as malformed.
// - nghttp2_session_want_read / _want_write / _get_outbound_queue_size /
//   _get_remote_settings / _get_last_proc_stream_id: state the adapter reports or bounds.
// - nghttp2_rcbuf_incref / _decref / _get_buf: keep decoded header strings alive until the whole
//   header block is delivered, without copying them (and the fields KnownFieldCache remembers).
#ifndef CNGHTTP2_H
#define CNGHTTP2_H

#include <nghttp2/nghttp2.h>

// Return codes of nghttp2 functions and of our callbacks (nghttp2_error).
static const int CNghttp2_ERR_DEFERRED = NGHTTP2_ERR_DEFERRED;
static const int CNghttp2_ERR_PAUSE = NGHTTP2_ERR_PAUSE;
static const int CNghttp2_ERR_WOULDBLOCK = NGHTTP2_ERR_WOULDBLOCK;
static const int CNghttp2_ERR_TEMPORAL_CALLBACK_FAILURE = NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
static const int CNghttp2_ERR_CALLBACK_FAILURE = NGHTTP2_ERR_CALLBACK_FAILURE;
static const int CNghttp2_ERR_BAD_CLIENT_MAGIC = NGHTTP2_ERR_BAD_CLIENT_MAGIC;
static const int CNghttp2_ERR_FLOODED = NGHTTP2_ERR_FLOODED;
static const int CNghttp2_ERR_TOO_MANY_CONTINUATIONS = NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
static const int CNghttp2_ERR_NOMEM = NGHTTP2_ERR_NOMEM;
static const int CNghttp2_ERR_STREAM_ID_NOT_AVAILABLE = NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE;

// Frame types (nghttp2_frame_type), as they appear in nghttp2_frame_hd.type.
static const uint8_t CNghttp2_DATA = NGHTTP2_DATA;
static const uint8_t CNghttp2_HEADERS = NGHTTP2_HEADERS;
static const uint8_t CNghttp2_RST_STREAM = NGHTTP2_RST_STREAM;
static const uint8_t CNghttp2_SETTINGS = NGHTTP2_SETTINGS;
static const uint8_t CNghttp2_PING = NGHTTP2_PING;
static const uint8_t CNghttp2_GOAWAY = NGHTTP2_GOAWAY;
static const uint8_t CNghttp2_CONTINUATION = NGHTTP2_CONTINUATION;

// Frame flags (nghttp2_flag).
static const uint8_t CNghttp2_FLAG_NONE = NGHTTP2_FLAG_NONE;
static const uint8_t CNghttp2_FLAG_END_STREAM = NGHTTP2_FLAG_END_STREAM;
static const uint8_t CNghttp2_FLAG_END_HEADERS = NGHTTP2_FLAG_END_HEADERS;
static const uint8_t CNghttp2_FLAG_ACK = NGHTTP2_FLAG_ACK;
static const uint8_t CNghttp2_FLAG_PADDED = NGHTTP2_FLAG_PADDED;

// Header categories (nghttp2_headers_category) of a received HEADERS frame.
static const int CNghttp2_HCAT_REQUEST = NGHTTP2_HCAT_REQUEST;
static const int CNghttp2_HCAT_RESPONSE = NGHTTP2_HCAT_RESPONSE;

// Header field flags (nghttp2_nv_flag): names and values live in the session's own header
// blocks until the frame is out, so nghttp2 neither copies nor lower-cases them.
static const uint8_t CNghttp2_NV_FLAG_NO_COPY_NAME = NGHTTP2_NV_FLAG_NO_COPY_NAME;
static const uint8_t CNghttp2_NV_FLAG_NO_COPY_VALUE = NGHTTP2_NV_FLAG_NO_COPY_VALUE;

// DATA provider flags (nghttp2_data_flag).
static const uint32_t CNghttp2_DATA_FLAG_EOF = NGHTTP2_DATA_FLAG_EOF;
static const uint32_t CNghttp2_DATA_FLAG_NO_END_STREAM = NGHTTP2_DATA_FLAG_NO_END_STREAM;
static const uint32_t CNghttp2_DATA_FLAG_NO_COPY = NGHTTP2_DATA_FLAG_NO_COPY;

// SETTINGS identifiers (nghttp2_settings_id).
static const int32_t CNghttp2_SETTINGS_HEADER_TABLE_SIZE = NGHTTP2_SETTINGS_HEADER_TABLE_SIZE;
static const int32_t CNghttp2_SETTINGS_ENABLE_PUSH = NGHTTP2_SETTINGS_ENABLE_PUSH;
static const int32_t CNghttp2_SETTINGS_MAX_CONCURRENT_STREAMS = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
static const int32_t CNghttp2_SETTINGS_INITIAL_WINDOW_SIZE = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
static const int32_t CNghttp2_SETTINGS_MAX_FRAME_SIZE = NGHTTP2_SETTINGS_MAX_FRAME_SIZE;
static const int32_t CNghttp2_SETTINGS_MAX_HEADER_LIST_SIZE = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;

#endif
