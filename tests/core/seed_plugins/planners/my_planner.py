from chaosmonkey.planners import Planner

class MyPlanner(Planner):

    ref = "my_planner:MyPlanner"
    schema = {
        "type": "object",
        "properties": {
            "ref": {"type": "string"},
            "args": {
                "type": "object",
                "properties": {
                    "date": {"type": "string"}
                }
            }
        }
    }
    example = {
        "ref": "my_planner:MyPlanner",
        "args": {
            "date": "2016-06-21T15:30"
        }
    }

    def plan(self, planner_config, attack_config):
            """
            planner_config and attack_config are json/dicts passed to the endpoint
            when executing this planner.

            The plan method must call self._add_job to schedule attacks in a date.
            This date should be calculated based on planner_config variables.
            The executor config is passed as a parameter to the add_job, and it will
            be passed to the attack executor when the scheduler executes a job to execute
            the attack.
            """
            attack_date = planner_config["args"]["date"]
            self._add_job(attack_date, "Job Name", attack_config)

    @staticmethod
    def to_dict():
        return Planner._to_dict(MyPlanner.ref, MyPlanner.schema, MyPlanner.example)
