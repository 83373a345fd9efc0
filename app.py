"""videocam's web app: see why a video model decided what it decided.

    python app.py                      # http://127.0.0.1:7860
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7860 python app.py   # what a Space sets

The page is composed in demo/ui.py from one module or folder per tab (its layout and handlers).
"""

import logging
import os

from demo import space  # first: ZeroGPU wants `spaces` imported before torch
from demo.models import model_choices
from demo.ui import build_demo, launch_kwargs

demo = build_demo()
# ZeroGPU: the shipped models on the GPU now, in the main thread, before launch (nothing elsewhere)
space.preload(m.name for m in model_choices() if m.available)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **launch_kwargs(),
    )
