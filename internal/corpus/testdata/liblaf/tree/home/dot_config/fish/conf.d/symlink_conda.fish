/opt/miniconda3/etc/fish/conf.d/conda.fish
