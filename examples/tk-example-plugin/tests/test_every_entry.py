"""Every part this package registers — backbone, augmentation, loss, sampler, optimiser, schedule,
callbacks, exporter, dataset, logger — built from a recipe, trained for a step or a tiny run on
real images, and exported, by tk's author kit: one line."""

from toolkit.testing import check_every_entry

test_every_entry = check_every_entry("tk_example_plugin")
