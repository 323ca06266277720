"""The grader's own failures: the run itself cannot go on. A student's mistakes are data, not errors."""


class GraderError(Exception):
    """Root of every error the CLI turns into one line and an exit code."""

    exit_code = 1

    def __init__(self, file: str, where: str, problem: str, fix: str):
        self.file, self.where, self.problem, self.fix = str(file), where, problem, fix
        super().__init__(self.line())

    def line(self) -> str:
        place = f"{self.file}: {self.where}: " if self.where else f"{self.file}: "
        return f"{place}{self.problem}. Fix: {self.fix}"


class RubricError(GraderError):
    pass


class RosterError(GraderError):
    pass


class OverridesError(GraderError):
    pass


class SettingsError(GraderError):
    exit_code = 2
