"""Builds data/labeled/sample.jsonl (run: python3 data/labeled/build_sample.py data/labeled/skillspan/postings.jsonl data/labeled/sample.jsonl): SkillSpan tech lines with hand-assigned
gold skills (canonical name, category) and their SkillSpan spans, plus two
posting excerpts with hand-assigned gold sections."""
import json, sys
P='programming_languages';F='frameworks_libraries';D='databases';C='cloud_platforms';O='devops_tools'
M='data_ml';T='software_tools';Me='methodologies';S='soft_skills';H='human_languages';K='domain_knowledge';Ce='certifications'
SENT = [
 ('train',4,'You work at all levels of the stack from PHP and MySQL',[('PHP',P),('MySQL',D),('Vue.js',F),('TypeScript',P),('Sass',P)]),
 ('train',4,'3+ years full-stack engineering experience with PHP SQL and Javascript',[('PHP',P),('SQL',P),('JavaScript',P)]),
 ('train',4,'At least 1 years of experience with Vue.js Vuex Laravel',[('Vue.js',F),('Vuex',F),('Laravel',F),('MySQL',D),('React',F),('Symfony',F),('TypeScript',P)]),
 ('train',4,'You are a team player with a result-oriented mindset',[('Teamwork',S),('Empathy',S)]),
 ('train',4,'As always you get completely pre-defined designs',[('Jira',T)]),
 ('train',7,'* Experience of Cloud Technologies ( e.g . AWS Google Cloud or Azure )',[('Amazon Web Services',C),('Google Cloud Platform',C),('Microsoft Azure',C)]),
 ('train',8,'• Experience with Linux based environments including shell scripting',[('Linux',T),('Bash',P)]),
 ('train',9,'You are engaged in the establishment and maintenance of our ISO 27001 certification',[('ISO/IEC 27001',Ce)]),
 ('train',9,'Fluent in German and English',[('German',H),('English',H)]),
 ('train',11,'* Good technical breadth in areas such as J2EE',[('Java EE',F),('Spring',F),('Apache Kafka',O),('Elasticsearch',D),('MongoDB',D)]),
 ('train',11,'Good exposure to UI Frameworks like Angular',[('Angular',F)]),
 ('train',12,'Git ( GitHub ) Experience producing cross-browser compatible code',[('Git',O),('GitHub',O)]),
 ('train',12,'Agile ( Scrum/Kanban ) Any full-stack experience',[('Agile',Me),('Scrum',Me),('Kanban',Me)]),
 ('train',13,'At least 1 year experience with a public cloud ( AWS Microsoft Azure Google Cloud )',[('Amazon Web Services',C),('Microsoft Azure',C),('Google Cloud Platform',C)]),
 ('train',14,'. Net framework ( . Net Core . Net mainly C# )',[('.NET Framework',F),('.NET Core',F),('C#',P)]),
 ('train',14,'You are a team player and you use your excellent communication skills',[('Teamwork',S),('Communication',S),('German',H),('English',H)]),
 ('train',20,'At least 2 years of experience with a public cloud service such as Amazon Web Services',[('Amazon Web Services',C),('Microsoft Azure',C),('Google Cloud Platform',C)]),
 ('train',20,'Sound understanding on Technologies and Languages: Delivery tools',[('Docker',O),('Jenkins',O),('GitHub',O),('Go',P),('Python',P),('Terraform',O)]),
 ('train',53,'* Strong communications multitasking and problem solving skills',[('Communication',S),('Multitasking',S),('Problem solving',S)]),
 ('train',69,'• Research and analyse data sets using a variety of statistical',[('Statistics',M),('Machine learning',M)]),
 ('train',69,'• Strong experience with machine learning APIs and computational packages',[('Machine learning',M),('scikit-learn',M),('NumPy',M),('SciPy',M),('pandas',M),('statsmodels',M)]),
 ('train',76,'Will be a plus: PHP - BIG PLUS; Nginx/Varnish',[('PHP',P),('Nginx',O),('Varnish',O),('CI/CD',O),('Jenkins',O),('Infrastructure as code',Me),('Terraform',O),('Ansible',O),('Docker',O),('Domain-driven design',Me),('Agile',Me)]),
 ('dev',12,'Good knowledge of backend technologies such as MySQL Memcached/Redis Docker',[('MySQL',D),('Memcached',D),('Redis',D),('Docker',O)]),
 ('dev',29,'Build with cloud infrastructure technologies such as Terraform Kubernetes',[('Terraform',O),('Kubernetes',O),('Amazon Web Services',C)]),
 ('train',31,"With your + 5 years knowledge of working with Typescript Node React",[('TypeScript',P),('Node.js',F),('React',F),('GraphQL',F),('PostgreSQL',D),('Amazon Web Services',C)]),
 ('dev',1,'High level and deep technical experience with continuous integration',[('CI/CD',O),('Jenkins',O),('Travis',O),('CircleCI',O)]),
 ('dev',23,'Knowledge of pair programming continuous integration and test-driven development',[('Pair programming',Me),('CI/CD',O),('Test-driven development',Me)]),
 ('dev',3,'Fluent English both written and spoken is a must',[('English',H),('German',H),('Italian',H),('French',H)]),
 ('train',17,'- Working with Next.js and React based frameworks',[('Next.js',F),('React',F)]),
 ('train',8,'• Experience using Spring Boot Spring Cloud ORM JUnit Maven Jenkins',[('Spring Boot',F),('Spring Cloud',F),('JUnit',F),('Apache Maven',O),('Jenkins',O)]),
 ('dev',28,'linux c c++ linux-kernel',[('Linux',T),('C',P),('C++',P)]),
 ('train',3,'Excellent HTML and CSS skills',[('HTML',P),('CSS',P)]),
 ('train',65,'About You: You will be an established Developer-in-Test with extensive Python',[('Python',P),('Test automation',Me),('Agile',Me)]),
 ('train',27,'* Experience in infrastructure-As-Code ( CloudFormation TerraForm etc) .',[('Infrastructure as code',Me),('AWS CloudFormation',O),('Terraform',O)]),
 ('dev',3,'Experience in Enterprise Integration Patterns ( Spring Apache Camel )',[('Enterprise integration patterns',K),('Spring',F),('Apache Camel',F),('Apache Kafka',O),('Apache ActiveMQ',O),('Java Message Service',F),('IBM MQ',O),('Unix',T),('Linux',T),('Bash',P)]),
 ('train',1,'At least 5 years of combined experience in Java or Kotlin',[('Java',P),('Kotlin',P),('JavaScript',P),('TypeScript',P),('Selenium',F),('TestCafe',F)]),
 ('train',1,'Good understanding of Agile methodologies and Continuous Delivery .',[('Agile',Me),('CI/CD',O)]),
 # No skill at all: every prediction is a false positive.
 ('train',1,'It is all based on trust not micromanaging .',[]),
 ('train',1,'Visa support can currently be offered only for <LOCATION> .',[]),
]
SECTIONS = [
 ('train',1,19,48,[(19,'tech_stack'),(21,'role'),(24,'responsibilities'),(28,'requirements'),(37,'benefits')]),
 ('dev',3,20,38,[(20,'role'),(22,'responsibilities'),(29,'qualifications'),(34,'nice_to_have')]),
]
posts={}
for l in open(sys.argv[1]):
    d=json.loads(l)
    if d['source']=='tech': posts[(d['split'],d['idx'])]=d
def lines_of(d):
    off=0;out=[]
    for line in d['text'].split('\n'):
        out.append((off,line)); off+=len(line)+1
    return out
recs=[]
for n,(split,idx,prefix,gold) in enumerate(SENT,1):
    d=posts[(split,idx)]
    hits=[(o,l) for o,l in lines_of(d) if l.startswith(prefix)]
    assert len(hits)>=1,(split,idx,prefix)
    o,line=hits[0]
    spans=[{'start':s['start']-o,'end':s['end']-o,'label':s['label']} for s in d['spans'] if s['start']>=o and s['end']<=o+len(line)]
    for s in spans: assert line[s['start']:s['end']]
    recs.append({'id':f'sample-{n:02d}','text':line,'gold_skills':[{'name':a,'category':c} for a,c in gold],'gold_spans':spans,
                 'meta':{'source':'skillspan','split':split,'posting':f'tech-{split}-{idx}'}})
for n,(split,idx,a,b,heads) in enumerate(SECTIONS,1):
    d=posts[(split,idx)]
    ls=d['text'].split('\n')[a:b]
    text='\n'.join(ls)
    starts=[];off=0
    for l in ls: starts.append(off); off+=len(l)+1
    secs=[]
    for i,(line,typ) in enumerate(heads):
        s=starts[line-a]
        e=(starts[heads[i+1][0]-a]-1) if i+1<len(heads) else len(text)
        secs.append({'start':s,'end':e,'section_type':typ})
    recs.append({'id':f'sample-sections-{n}','text':text,'gold_sections':secs,'meta':{'source':'skillspan','split':split,'posting':f'tech-{split}-{idx}','lines':f'{a}-{b-1}'}})
with open(sys.argv[2],'w') as f:
    for r in recs: f.write(json.dumps(r,ensure_ascii=False)+'\n')
print(len(recs),'records', sum(len(r.get('gold_skills',[])) for r in recs),'gold skills')
