import DevmeshConfig
import DevmeshHTTP2

extension HTTP2Settings {
    /// The session settings for the `http2:` section of the configuration.
    init(_ options: HTTP2Options) {
        self.init(maxConcurrentStreams: options.maxConcurrentStreams,
                  initialStreamWindowBytes: options.initialStreamWindowBytes,
                  connectionWindowBytes: options.connectionWindowBytes,
                  maxFrameBytes: options.maxFrameBytes,
                  maxHeaderListBytes: options.maxHeaderListBytes,
                  maxHeaderFieldCount: options.maxHeaderCount,
                  streamSendBufferBytes: options.streamSendBufferBytes,
                  maxConsecutiveEmptyFrames: options.maxConsecutiveEmptyFrames,
                  maxContinuationFrames: options.maxContinuationFrames,
                  maxOutboundQueuedFrames: options.maxOutboundQueuedFrames,
                  rapidResetSampleStreams: options.rapidResetStreams,
                  rapidResetPercent: options.rapidResetPercent,
                  rapidResetLifetimeMilliseconds: options.rapidResetWindow.value)
    }
}
