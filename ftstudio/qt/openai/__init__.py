"""OpenAI fine-tuning in the studio: the upload dialog and the job runner of the Train page."""
