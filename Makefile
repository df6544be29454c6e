# Shortcuts for those who have make; dev.py does the work and needs only Python.
.PHONY: run test emulator
run:
	python3 dev.py run
test:
	python3 dev.py test
emulator:
	python3 dev.py emulator
