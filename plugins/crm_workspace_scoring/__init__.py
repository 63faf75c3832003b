"""Lead scores: rule points and a trained model, each explained."""
