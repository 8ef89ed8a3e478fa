"""ST-VLM: spatial-to-image multimodal spatial-temporal forecasting with a vision-language model.

The model library. It never imports ray or optuna (see harness/ for orchestration).
"""

__version__ = "0.1.0"
