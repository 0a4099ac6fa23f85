"""QLoRA fine-tuning: tokenizing with loss masks, packing, the Trainer run and the scorecard."""
