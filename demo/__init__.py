"""The Gradio app: the page composed in ui.py, one module or folder per tab (explain_tab/,
whole_video_tab/, audit_tab.py, live_tab.py, gallery_tab.py), wired by page.py; settings in config.py.

Kept free of imports so that ``from demo import space`` can run before torch is imported.
"""
