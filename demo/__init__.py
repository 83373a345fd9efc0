"""The Gradio app: layout in ui.py, callbacks in handlers.py, settings in config.py.

Kept free of imports so that ``from demo import space`` can run before torch is imported.
"""
