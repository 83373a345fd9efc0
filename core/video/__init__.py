"""Video in and out: read a file (or an array) into a :class:`Clip` of T RGB frames, and encode
frames into a video file. This is the package's one public face; the files inside are private:

- ``_clip``: :func:`read_clip` and its sampling policies, :func:`clip_from_frames`, :func:`read_frames`
- ``_open``: :func:`open_video`, the file checks, every failure a ``VideoError`` naming the file
- ``_decode``: the PyAV passes (demux into a :class:`Timeline`, then decode only the frames kept)
- ``_sampling``: which frames a clip keeps, pure index maths (:class:`Sampling`)
- ``_limits``: how much work one read may do (:class:`Limits`, :class:`Budget`)
- ``_encode``: :func:`encode_video`, the project's one encode loop

Each name loads its module on first use (as :mod:`core` does): the option enums cost no PyAV.
"""

from .._lazy import lazy_names
from ..errors import VideoError, VideoTimeoutError, VideoTooLargeError

# name -> the private module that defines it
_WHERE = {
    **dict.fromkeys(["Clip", "DEFAULT_FPS", "DEFAULT_NUM_FRAMES", "DEFAULT_SAMPLING", "MAX_CLIP_BYTES",
                     "clip_from_frames", "read_clip", "read_frames"], "_clip"),
    **dict.fromkeys(["MIN_FRAMES", "VideoSource", "open_video", "reading"], "_open"),
    **dict.fromkeys(["Decoded", "Timeline", "decode_frames", "index_stream", "iter_frames"], "_decode"),
    **dict.fromkeys(["SAMPLING_POLICIES", "Sampling", "check_sampling", "display_size", "fps_indices",
                     "nearest", "uniform_indices"], "_sampling"),
    **dict.fromkeys(["Budget", "Limits"], "_limits"),
    **dict.fromkeys(["encode_video", "h264_codec"], "_encode"),
}

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
__all__ = [
    "DEFAULT_FPS", "DEFAULT_NUM_FRAMES", "DEFAULT_SAMPLING", "MAX_CLIP_BYTES", "MIN_FRAMES", "SAMPLING_POLICIES",
    "Budget", "Clip", "Decoded", "Limits", "Sampling", "Timeline", "VideoError", "VideoSource", "VideoTimeoutError",
    "VideoTooLargeError", "check_sampling", "clip_from_frames", "decode_frames", "display_size", "encode_video",
    "fps_indices", "h264_codec", "index_stream", "iter_frames", "nearest", "open_video", "read_clip", "read_frames",
    "reading", "uniform_indices",
]
