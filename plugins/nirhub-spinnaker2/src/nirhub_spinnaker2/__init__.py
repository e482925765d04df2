"""nirhub plugin: SpiNNaker2 (py-spinnaker2 populations, chip limits, kernel emulator)."""
