"""The Latent space page's parts (views/latent.py draws them in order): its controls, the map with the
panels about its points, the training replay, and the clusters with their edits and downloads."""
