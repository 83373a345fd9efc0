"""What builds and measures the shipped models; it imports :mod:`core`, never the reverse.

- :mod:`lab.data`: the synthetic Something-Something-style generator and the SSv2 layout
  (``python -m lab.data``);
- :mod:`lab.train`: training on an SSv2-layout folder (``python -m lab.train``), with
  :mod:`lab.cam_loss`, the ground-truth localisation loss of ``--cam-loss``;
- :mod:`lab.evaluate`: accuracy and explanation scores against the rendered ground truth
  (``python -m lab.evaluate``);
- :mod:`lab.samples`: the demo's sample clips and the gallery tables (``python -m lab.samples``).
"""
