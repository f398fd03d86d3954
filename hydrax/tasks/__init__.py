"""Built-in tasks, by name."""

from hydrax.task_base import Task


def get_task(name: str, **kwargs: object) -> Task:
    """Build a built-in task by its name (``double_cart_pole``, ...)."""
    return task_class(name)(**kwargs)


def task_class(name: str) -> type[Task]:
    """A built-in task's class by its name, without building it."""
    from hydrax.tasks.cart_pole import CartPole
    from hydrax.tasks.crane import Crane
    from hydrax.tasks.cube import CubeRotation
    from hydrax.tasks.double_cart_pole import DoubleCartPole
    from hydrax.tasks.hopper import Hopper
    from hydrax.tasks.particle import Particle
    from hydrax.tasks.pendulum import Pendulum
    from hydrax.tasks.pusht import PushT
    from hydrax.tasks.quadruped import Quadruped
    from hydrax.tasks.walker import Walker

    tasks = {
        "double_cart_pole": DoubleCartPole,
        "cart_pole": CartPole,
        "pendulum": Pendulum,
        "hopper": Hopper,
        "quadruped": Quadruped,
        "particle": Particle,
        "pusht": PushT,
        "walker": Walker,
        "crane": Crane,
        "cube": CubeRotation,
    }
    if name not in tasks:
        raise ValueError(
            f"unknown task {name!r}; built-in tasks are: {', '.join(tasks)}"
        )
    return tasks[name]


TASK_NAMES = (
    "double_cart_pole",
    "cart_pole",
    "pendulum",
    "hopper",
    "quadruped",
    "particle",
    "pusht",
    "walker",
    "crane",
    "cube",
)
