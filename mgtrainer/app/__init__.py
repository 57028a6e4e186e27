"""The app layer: the flows behind the verbs (train, eval, data preview), above the tasks.

It loads and checks the config once, decides the backend once, loads the data for the task's record
kind and hands the task module and its data down (mgtrainer.tasks.contract.Task). Below it, the
driver is a library that never imports a task; serve/ is the serving app beside it.
"""
