from __future__ import annotations

import factory

from compliance.models import Control, ControlGroup, ControlMapping, Framework, GroupKind, Question, Relationship


class FrameworkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Framework
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"framework-{n}")
    name = factory.Sequence(lambda n: f"Framework {n}")
    version = "1.0"
    publisher = "Test publisher"
    jurisdiction = "United Kingdom"
    description = "A framework made for tests."


class ControlGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ControlGroup
        skip_postgeneration_save = True

    framework = factory.SubFactory(FrameworkFactory)
    ref = factory.Sequence(lambda n: f"G{n}")
    kind = GroupKind.THEME
    title = factory.Sequence(lambda n: f"Group {n}")
    position = factory.Sequence(lambda n: n)


class ControlFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Control
        skip_postgeneration_save = True

    group = factory.SubFactory(ControlGroupFactory)
    framework = factory.SelfAttribute("group.framework")
    ref = factory.Sequence(lambda n: f"C.{n}")
    title = factory.Sequence(lambda n: f"Control {n}")
    description = "What this control means."
    guidance = "How a small business meets it."
    typical_evidence = factory.LazyFunction(lambda: ["A policy document"])
    weight = 3
    position = factory.Sequence(lambda n: n)


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question
        skip_postgeneration_save = True

    control = factory.SubFactory(ControlFactory)
    key = factory.Sequence(lambda n: f"q{n}")
    text = "Is it done?"


class ControlMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ControlMapping
        skip_postgeneration_save = True

    source = factory.SubFactory(ControlFactory)
    target = factory.SubFactory(ControlFactory)
    relationship = Relationship.INTERSECT
    rationale = "They cover the same ground."
