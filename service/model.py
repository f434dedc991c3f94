"""The model: an iris classifier, trained at start on the Iris data scikit-learn ships (no download)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

FEATURES = ("sepal length", "sepal width", "petal length", "petal width")  # centimetres, in this order


@dataclass(frozen=True)
class Classifier:
    estimator: LogisticRegression
    classes: tuple[str, ...]
    accuracy: float  # on the quarter of the data held out from training

    def predict(self, instances: list[list[float]]) -> list[str]:
        return [self.classes[index] for index in self.estimator.predict(instances)]


def train(seed: int = 7) -> Classifier:
    # scikit-learn (a second to import) loads here: whoever imports the service without training
    # (its configuration, the test suite's collection) does not pay for it.
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.25,
                                                        random_state=seed, stratify=data.target)
    estimator = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    return Classifier(estimator, tuple(str(name) for name in data.target_names),
                      float(estimator.score(x_test, y_test)))
