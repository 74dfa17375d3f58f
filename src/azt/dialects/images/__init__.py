"""The Images API dialect: `POST /v1/images/generations` and `/v1/images/edits` over Codex.

Requests (JSON, or multipart/form-data through `parse_multipart`) become one Codex `/responses`
body with a forced `image_generation` tool (`plan_image_request` → `ImagePlan`); the caller
sends it `plan.n` times. Replies: `collect_image` reads one upstream SSE body into an
`ImageResult`, `images_response` builds the `ImagesResponse` JSON from the results, and
`ImageStreamTranslator` turns a streamed upstream reply into OpenAI image stream events.
See docs/images.md.

The code lives in `request.py` and `reply.py`; this module is the public surface.
"""

from azt.dialects.images.reply import (
    ImageCollector,
    ImageResult,
    ImageStreamTranslator,
    collect_image,
    image_failure,
    images_response,
)
from azt.dialects.images.request import (
    KNOWN_IMAGE_MODELS,
    PARAMETERS,
    ImagePlan,
    parse_multipart,
    plan_image_request,
)

__all__ = [
    "KNOWN_IMAGE_MODELS",
    "PARAMETERS",
    "ImageCollector",
    "ImagePlan",
    "ImageResult",
    "ImageStreamTranslator",
    "collect_image",
    "image_failure",
    "images_response",
    "parse_multipart",
    "plan_image_request",
]
