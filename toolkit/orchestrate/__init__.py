"""Work that spans the floors below: train then export and bench (`workflow`), several training
processes (`launch`), cross-validation (`crossval`) and hyper-parameter search (`tune`).
"""
